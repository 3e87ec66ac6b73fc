import { isEmail } from 'class-validator';
import { BadUserInputError } from '../../infra/errors/domain-error';

/** One createCampaign or addCampaignRecipients call; a larger audience is added in batches. */
export const MAX_RECIPIENTS_PER_CALL = 50_000;
/** Bad addresses quoted in the error; the rest are counted. */
const NAMED_IN_ERROR = 10;

/**
 * Trimmed, lower-cased and de-duplicated (first occurrence order kept). Any address that is not
 * one valid email (the same check sendEmail applies to `to`) refuses the whole list, naming it.
 */
export function normaliseRecipients(recipients: string[], field = 'recipients'): string[] {
  if (recipients.length > MAX_RECIPIENTS_PER_CALL) {
    throw BadUserInputError.field(field, `must be at most ${MAX_RECIPIENTS_PER_CALL.toLocaleString('en-US')} per call`);
  }
  const unique = new Set<string>();
  const invalid: string[] = [];
  for (const raw of recipients) {
    const email = raw.trim().toLowerCase();
    if (email.length > 320 || !isEmail(email)) invalid.push(raw);
    else unique.add(email);
  }
  if (invalid.length) {
    const named = invalid
      .slice(0, NAMED_IN_ERROR)
      .map((a) => JSON.stringify(a.length > 80 ? `${a.slice(0, 80)}…` : a))
      .join(', ');
    const more = invalid.length > NAMED_IN_ERROR ? ` and ${invalid.length - NAMED_IN_ERROR} more` : '';
    const what = invalid.length === 1 ? 'is not a valid email address' : 'are not valid email addresses';
    throw new BadUserInputError(`${field}: ${named}${more} ${what}; nothing was stored`, [field]);
  }
  return [...unique];
}
