import { maskWebhookSecret, unmaskWebhookSecret } from './server-vault';

describe('webhook URL secrets in stored text', () => {
  const url = 'https://mr.example/webhooks/elasticemail/6a1c?secret=Zq3_x-9';

  it('masks every secret= value, in a URL and in a sentence quoting it, keeping what follows', () => {
    expect(maskWebhookSecret(url)).toBe('https://mr.example/webhooks/elasticemail/6a1c?secret=****');
    expect(maskWebhookSecret(`Paste ${url}. Then save.`)).toBe('Paste https://mr.example/webhooks/elasticemail/6a1c?secret=****. Then save.');
    expect(maskWebhookSecret(`${url}&other=1, (${url})`)).toBe(
      'https://mr.example/webhooks/elasticemail/6a1c?secret=****&other=1, (https://mr.example/webhooks/elasticemail/6a1c?secret=****)',
    );
    expect(maskWebhookSecret(null)).toBeNull();
  });

  it('puts the secret back where it was masked, and only there', () => {
    const masked = maskWebhookSecret(`Paste ${url}. Then save.`);
    expect(unmaskWebhookSecret(masked, 'Zq3_x-9')).toBe(`Paste ${url}. Then save.`);
    expect(unmaskWebhookSecret('a ?secret=****x literal', 'S')).toBe('a ?secret=****x literal');
  });
});
