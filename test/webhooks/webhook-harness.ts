import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Response } from 'supertest';
import { newAgency } from '../factories/accounts';
import { createServer, type ServerView } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { freePort } from '../utils/free-port';
import { waitFor } from '../utils/wait-for';

/** Waits until some session of `db`'s database is waiting for a lock (e.g. a post for a row `db` holds). */
export async function lockWaiter(db: Client, what: string): Promise<void> {
  await waitFor(what, async () => {
    const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows;
    return n > 0;
  });
}

export interface MessageView {
  id: string;
  status: string;
  error: { code: string; message: string; smtpResponseCode: number | null } | null;
  events: { type: string; detail: string | null }[];
}

export interface SuppressionView {
  email: string;
  reason: string;
}

/** A signed (or deliberately unsigned) post as a fake produces it. */
export interface WebhookPost {
  rawBody: Buffer;
  headers: Record<string, string>;
}


/**
 * The app in process plus what webhook tests need: servers created through GraphQL, sent
 * messages, and reads of message status, events and suppressions.
 */
export class WebhookHarness {
  private constructor(readonly t: TestApp) {}

  /** `listen`: serve HTTP on PUBLIC_URL's port so a fake can call back (SparkPost's ping). */
  static async start(env: Record<string, string>, options: { listen?: boolean } = {}): Promise<WebhookHarness> {
    if (!options.listen) return new WebhookHarness(await createTestApp(env));
    const port = await freePort();
    const t = await createTestApp({ ...env, PUBLIC_URL: `http://127.0.0.1:${port}` });
    await t.app.listen(port, '127.0.0.1');
    return new WebhookHarness(t);
  }

  close(): Promise<void> {
    return this.t.close();
  }

  /** An agency and a server of it, created through GraphQL (webhooks registered at the fake). */
  async server(input: Record<string, unknown>): Promise<{ accountId: string; server: ServerView }> {
    const agency = await newAgency(this.t);
    const server = await createServer(this.t, { accountId: agency.id, name: `${String(input.provider)} webhooks`, ...input });
    return { accountId: agency.id, server };
  }

  /**
   * A message as the dispatch worker leaves it after a provider accepted it (SENT with the
   * provider's id). Inserted directly: sending is covered by the messages tests, and a row
   * lets each webhook test choose the provider id, the recipient and the starting status.
   */
  async sentMessage(
    accountId: string,
    serverId: string,
    providerMessageId: string,
    overrides: { to?: string; status?: string; id?: string } = {},
  ): Promise<{ id: string; to: string; providerMessageId: string }> {
    const id = overrides.id ?? randomUUID();
    const to = overrides.to ?? `reader-${randomUUID().slice(0, 8)}@example.org`;
    await this.sql(
      `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, server_id, transport, provider_message_id, attempts, sent_at)
       VALUES ($1, $2, 'ONE_OFF', 'news@example.com', $3, 'Hello', 'Hi', $4::message_status, $5, 'API', $6, 1, now())`,
      [id, accountId, to, overrides.status ?? 'SENT', serverId, providerMessageId],
    );
    return { id, to, providerMessageId };
  }

  async message(id: string): Promise<MessageView> {
    const data = await this.t.gqlOk<{ message: MessageView }>(`query($id: ID!) { message(id: $id) { id status error { code message smtpResponseCode } events { type detail } } }`, { id });
    return data.message;
  }

  /** Event types recorded by webhooks (QUEUED/SENT… are not: the row was inserted as SENT). */
  async eventTypes(id: string): Promise<string[]> {
    return (await this.message(id)).events.map((e) => e.type);
  }

  async suppressions(accountId: string): Promise<SuppressionView[]> {
    const data = await this.t.gqlOk<{ suppressions: { edges: { node: SuppressionView }[] } }>(
      `query($accountId: ID!) { suppressions(accountId: $accountId, first: 100) { edges { node { email reason } } } }`,
      { accountId },
    );
    return data.suppressions.edges.map((e) => e.node).sort((a, b) => a.email.localeCompare(b.email));
  }

  async countEvents(): Promise<number> {
    const rows = await this.sql<{ n: string }>('SELECT count(*) AS n FROM message_events');
    return Number(rows[0].n);
  }

  post(path: string, post: WebhookPost): Promise<Response> {
    const req = this.t.http().post(path);
    for (const [name, value] of Object.entries(post.headers)) req.set(name, value);
    // superagent would JSON-encode a Buffer sent as application/json: send the exact bytes.
    return req.serialize(keepBytes).send(post.rawBody);
  }

  async sql<T extends object = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.t.databaseUrl });
    await client.connect();
    try {
      return (await client.query<T>(query, params)).rows;
    } finally {
      await client.end();
    }
  }
}

/** superagent's serializer type says string; Node's request writes a Buffer as it is. */
const keepBytes = (body: unknown): string => body as string;

/** A deterministic byte generator (mulberry32), so a fuzz failure can be replayed. */
export function seededBytes(seed: number): (length: number) => Buffer {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (length) => Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
}
