import fc from 'fast-check';
import MailComposer from 'nodemailer/lib/mail-composer';
import { composedHead, headerDate, MimeTemplates, perMessageHead, plainHead, type MimeInput } from './mime-templates';

/** Unfolded header fields (sorted: the order differs and does not matter) and the body, boundaries named alike. */
function normalise(raw: Buffer): { fields: string[]; body: string } {
  const text = raw.toString().replace(/--_NmP-[0-9a-f]{16}-Part_(\d+)/g, 'BOUNDARY_$1');
  const end = text.indexOf('\r\n\r\n');
  const fields = text.slice(0, end).replace(/\r\n[ \t]/g, ' ').split('\r\n').sort();
  return { fields, body: text.slice(end + 4) };
}

/** The message as nodemailer composes it whole for one recipient (what the transport sent before templates). */
async function composedWhole(input: MimeInput, date: string): Promise<Buffer> {
  const { from, to, replyTo, subject, html, text, headers, messageId } = input;
  return new MailComposer({ from, to, replyTo, subject, html, text, headers, messageId, date }).compile().build();
}

const dateOf = (raw: Buffer): string => /^Date: (.*)$/m.exec(raw.toString())?.[1].trim() ?? '';

const base: MimeInput = {
  from: 'Shop <orders@shop.example>',
  to: 'buyer@customer.example',
  subject: 'Your order',
  html: '<p>Thanks for your <b>order</b></p>',
  text: 'Thanks for your order',
  headers: [],
  messageId: '<0b0f3c1e-5d7a-4f7e-9a51-2f1c7c2d9e11@mailroute.test>',
};

describe('MimeTemplates', () => {
  const cases: [string, Partial<MimeInput>][] = [
    ['plain ASCII, html and text', {}],
    ['html only', { text: undefined }],
    ['text only', { html: undefined }],
    ['no body at all', { html: undefined, text: undefined }],
    ['a non-ASCII subject and sender name', { subject: 'Ihre Bestellung über 20 € — danke!', from: '"Müller, Ärzte" <praxis@shop.example>' }],
    ['a long subject that folds', { subject: 'A very long subject line '.repeat(8).trim() }],
    ['a reply-to', { replyTo: 'Help Desk <help@shop.example>' }],
    ['a recipient with a name', { to: 'Bob Buyer <bob@customer.example>' }],
    ['an internationalised recipient domain', { to: 'kunde@bücher.example' }],
    ['a long Message-ID', { messageId: `<${'x'.repeat(90)}@mailroute.test>` }],
    ['no Message-ID given', { messageId: undefined }],
    ['a text body with dots, long lines and non-ASCII', { text: `.leading dot\r\n${'long line '.repeat(120)}\r\nGrüße`, html: '<p>Grüße</p>' }],
    [
      'custom headers: prepared JSON, non-ASCII, repeated',
      {
        headers: [
          { key: 'X-SMTPAPI', value: { prepared: true, value: '{"unique_args":{"order":"42"}}' } },
          { key: 'X-Note', value: 'Grüße aus Köln' },
          { key: 'X-Tag', value: 'a' },
          { key: 'X-Tag', value: 'b' },
        ],
      },
    ],
  ];

  it.each(cases)('builds what nodemailer would compose whole: %s', async (_name, change) => {
    const input = { ...base, ...change };
    const built = await new MimeTemplates().build(input);
    const whole = await composedWhole(input, dateOf(built.raw));
    const ours = normalise(built.raw);
    const theirs = normalise(whole);
    if (!input.messageId) {
      // Both generate one at the sender's domain; compare the rest and check ours is what the send reports.
      expect(ours.fields).toContain(`Message-ID: ${built.messageId}`);
      expect(built.messageId).toMatch(/^<[^@]+@shop\.example>$/);
      expect(theirs.fields.find((l) => l.startsWith('Message-ID:'))).toMatch(/@shop\.example>$/);
      const withoutId = (f: string[]): string[] => f.filter((l) => !l.startsWith('Message-ID:'));
      expect(withoutId(ours.fields)).toEqual(withoutId(theirs.fields));
    } else {
      expect(ours.fields).toEqual(theirs.fields);
      expect(built.messageId).toBe(input.messageId);
    }
    expect(ours.body).toBe(theirs.body);
  });

  it('writes a plain recipient and Message-ID exactly as nodemailer does', () => {
    const local = fc.oneof(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10})?$/), fc.stringMatching(/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~"-]{1,40}$/));
    // Mostly the lower-case host names the direct path takes, some that it must leave to nodemailer.
    const label = fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,12}$/), fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/), fc.stringMatching(/^xn--[a-z0-9-]{1,8}$/));
    const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/)).map(([labels, tld]) => [...labels, tld].join('.'));
    const id = fc.oneof(fc.uuid().map((u) => `${u}@mailroute.test`), fc.stringMatching(/^[\x21-\x7e]{1,70}$/));
    let direct = 0;
    const date = headerDate(new Date(0));
    fc.assert(
      fc.property(local, domain, id, (l, d, i) => {
        const input = { from: 'news@shop.example', to: `${l}@${d}`, messageId: `<${i}>` };
        const head = plainHead(input, date);
        if (head === null) return;
        direct++;
        expect(head).toBe(composedHead(input, date).head);
      }),
      { numRuns: 3000 },
    );
    expect(direct).toBeGreaterThan(100);
  });

  it('writes lines nodemailer would fold (76 characters and more) as nodemailer does', () => {
    const date = headerDate(new Date(0));
    const short = { from: 'news@shop.example', to: 'a@customer.example', messageId: '<m@mailroute.test>' };
    for (let n = 70; n <= 80; n++) {
      for (const input of [{ ...short, to: `${'t'.repeat(n - 21)}@customer.example` }, { ...short, messageId: `<${'m'.repeat(n - 29)}@mailroute.test>` }]) {
        expect(perMessageHead(input, date)).toEqual(composedHead(input, date));
      }
    }
  });

  it('keeps one template for a campaign: each recipient gets its own To and Message-ID over the same body', async () => {
    const templates = new MimeTemplates();
    const built = await Promise.all(
      Array.from({ length: 60 }, (_, i) => templates.build({ ...base, to: `r${i}@customer.example`, messageId: `<m${i}@mailroute.test>` })),
    );
    expect(templates.size).toBe(1);
    built.forEach(({ raw, messageId }, i) => {
      const text = raw.toString();
      expect(text).toMatch(new RegExp(`^To: r${i}@customer\\.example$`, 'm'));
      expect(text).toMatch(new RegExp(`^Message-ID: <m${i}@mailroute\\.test>$`, 'm'));
      expect(messageId).toBe(`<m${i}@mailroute.test>`);
      expect(normalise(raw).body).toBe(normalise(built[0].raw).body);
    });
  });

  it('a different subject, sender, reply-to, text or header is another template', async () => {
    const templates = new MimeTemplates();
    const variants: Partial<MimeInput>[] = [{}, { subject: 'Other' }, { from: 'other@shop.example' }, { replyTo: 'r@shop.example' }, { text: 'Other text' }, { headers: [{ key: 'X-A', value: '1' }] }];
    for (const v of variants) {
      const { raw } = await templates.build({ ...base, ...v });
      const whole = await composedWhole({ ...base, ...v }, dateOf(raw));
      expect(normalise(raw)).toEqual(normalise(whole));
    }
    expect(templates.size).toBe(variants.length);
  });

  it('an HTML and a text-only message with the same text are different templates', async () => {
    const templates = new MimeTemplates();
    for (const v of [{ html: 'Hello', text: 'Hello' }, { html: undefined, text: 'Hello' }, { html: 'Hello', text: undefined }]) {
      const { raw } = await templates.build({ ...base, ...v });
      expect(normalise(raw)).toEqual(normalise(await composedWhole({ ...base, ...v }, dateOf(raw))));
    }
    expect(templates.size).toBe(3);
  });

  it('counts only the templates it holds, also when some are pushed out while being composed', async () => {
    const alone = new MimeTemplates();
    await alone.build({ ...base, subject: 'Subject A' });
    const templates = new MimeTemplates();
    // Twelve subjects of one length, composed at once: four are pushed out before they are built.
    await Promise.all(Array.from({ length: 12 }, (_, i) => templates.build({ ...base, subject: `Subject ${String.fromCharCode(65 + i)}` })));
    expect(templates.size).toBe(8);
    expect(templates.bytes).toBe(8 * alone.bytes);
  });

  it('holds at most 8 templates per body, 8 MB in all, and none larger than 1 MB', async () => {
    const templates = new MimeTemplates();
    for (let i = 0; i < 12; i++) await templates.build({ ...base, subject: `Subject ${i}` });
    expect(templates.size).toBe(8);

    const big = new MimeTemplates();
    await big.build({ ...base, html: `<p>${'a'.repeat(1_200_000)}</p>` });
    expect(big.size).toBe(0);
    for (let i = 0; i < 20; i++) await big.build({ ...base, html: `<p>${String(i).repeat(300_000 / String(i).length)}</p>` });
    expect(big.bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(big.size).toBeGreaterThan(5);
    expect(big.size).toBeLessThan(20);
  });
});
