import fc from 'fast-check';
import { type Endpoint, startSignedEndpoints, type SignedEndpoints } from '../webhooks/signed-endpoints';
import type { WebhookPost } from '../webhooks/webhook-harness';

/**
 * POST /webhooks/{provider}/{serverId} with bodies no provider sent: random bytes, random
 * JSON, a valid signed post cut short or with one byte changed, under any content type. Each
 * is refused (400 or 401; Mailgun's refusals that a retry cannot fix are 406, its "do not retry")
 * or answered 200 with nothing stored, says nothing internal, and stores nothing. Reproducible: a failure
 * prints its seed; FUZZ_SEED and FUZZ_RUNS explore further.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const PROVIDERS = ['ses', 'sendgrid', 'mailgun', 'sparkpost', 'elasticemail'];
const CONTENT_TYPES = ['application/json', 'text/plain; charset=UTF-8', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x'];

function bodyArb(e: Endpoint): fc.Arbitrary<{ kind: string; post: WebhookPost }> {
  const signedHeaders = e.valid().headers;
  const random = fc.uint8Array({ maxLength: 2_000 }).map((bytes) => ({ kind: 'random bytes', rawBody: Buffer.from(bytes) }));
  const json = fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: 'random JSON', rawBody: Buffer.from(JSON.stringify(v) ?? 'null') }));
  const truncated = fc.nat().map((n) => {
    const valid = e.valid().rawBody;
    return { kind: 'valid post cut short', rawBody: valid.subarray(0, n % valid.length) };
  });
  const flipped = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
    const body = Buffer.from(e.valid().rawBody);
    body[at % body.length] ^= xor;
    return { kind: 'valid post with one byte changed', rawBody: body };
  });
  return fc
    .tuple(fc.oneof(random, json, truncated, flipped), fc.option(fc.constantFrom(...CONTENT_TYPES), { freq: 2 }))
    .map(([{ kind, rawBody }, contentType]) => ({ kind, post: { rawBody, headers: { ...signedHeaders, ...(contentType ? { 'content-type': contentType } : {}) } } }));
}

describe('fuzz: webhook endpoints, bodies no provider sent', () => {
  let signed: SignedEndpoints;
  beforeAll(async () => {
    signed = await startSignedEndpoints();
  });
  afterAll(() => signed?.stop());

  it('serves an endpoint for every provider of the contract', () => {
    expect(Object.keys(signed.endpoints).sort()).toEqual([...PROVIDERS].sort());
  });

  it.each(PROVIDERS)('%s: only a refusal or a 200 that stores nothing, nothing internal said, nothing stored', async (slug) => {
    const { h } = signed;
    const e = signed.endpoints[slug];
    const before = await h.countEvents();
    await fc.assert(
      fc.asyncProperty(bodyArb(e), async ({ kind, post }) => {
        const res = await h.post(e.path, post);
        // Where the body is not what is signed (SparkPost's and Elastic Email's credentials are in
        // the header or URL, Mailgun signs only timestamp + token), well-formed JSON can be an
        // authenticated batch of nothing known (SparkPost's ping is `[]`): accepted, nothing stored.
        // Elastic Email authenticates by the URL alone and answers a notification without a status
        // (its dashboard's URL check) with 200, whatever the body around it.
        const anyBodyMayBeEmpty = slug === 'elasticemail';
        const harmless = (anyBodyMayBeEmpty || (kind !== 'random bytes' && kind !== 'valid post cut short')) && res.status === 200 && (res.body as { stored?: unknown }).stored === 0;
        const refusals = slug === 'mailgun' ? [401, 406] : [400, 401];
        expect({ kind, status: harmless || refusals.includes(res.status) ? 'refused or harmless' : res.status }).toEqual({ kind, status: 'refused or harmless' });
        expect(JSON.stringify(res.body)).not.toMatch(/stack|\bat .+\.[jt]s:\d|SELECT|INSERT|QueryFailed|Error:/);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(await h.countEvents()).toBe(before);
  });
});
