import { addMocksToSchema, type IMocks } from '@graphql-tools/mock';
import { type GraphQLSchema } from 'graphql';
import { buildSchema } from 'graphql';
import { readFileSync } from 'node:fs';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe'];
const NAMES = ['Acme Growth Agency', 'Northwind Marketing', 'Bluebird CRM', 'Lumen Dental', 'Riverside Realty', 'Orbit Fitness'];
const DOMAINS = ['acme.io', 'northwind.example', 'bluebird.app', 'lumen.dental', 'riverside.homes'];

/** A deterministic pseudo-random sequence, so the mock answers the same on every run. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** The committed schema.gql with realistic mocked data: no database, no Redis. */
export function mockedSchema(schemaPath: string, seed = 42): GraphQLSchema {
  const next = sequence(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
  const email = (): string => `${pick(['hello', 'news', 'billing', 'team', 'jane.doe', 'support'])}@${pick(DOMAINS)}`;
  const mocks: IMocks = {
    DateTime: () => new Date(Date.UTC(2026, 10, 1) + Math.floor(next() * 30 * 86_400_000)).toISOString(),
    ID: () => `${Math.floor(next() * 1e8).toString(16)}-4e2a-4b7c-9d3e-${Math.floor(next() * 1e12).toString(16).padStart(12, '0')}`,
    Int: () => Math.floor(next() * 1000),
    String: () => pick(['Welcome aboard', 'Your November newsletter', 'Reminder: appointment tomorrow', 'Invoice #1042']),
    Account: () => ({ name: pick(NAMES), timezone: pick(ZONES), addons: [], effectiveAddons: [] }),
    ApiToken: () => ({ name: pick(['CRM backend', 'Zapier', 'ops laptop']) }),
    CreatedApiToken: () => ({ token: `mr_${'x'.repeat(43)}` }),
    DeliveryServer: () => ({ name: pick(['Primary SES', 'SendGrid EU', 'Mailgun transactional', 'Office SMTP']), senderAddress: email(), testEmail: email(), sendingDomain: pick(DOMAINS), pauseMs: pick([0, 250, 1000]) }),
    Message: () => ({ from: email(), to: email() }),
    Campaign: () => ({ name: pick(['Black Friday', 'Onboarding drip', 'Monthly digest']), from: email() }),
    Suppression: () => ({ email: email() }),
    RouteDecision: () => ({ from: email(), effectiveFrom: email() }),
    ServerTestResult: () => ({ to: email() }),
    ApiCredentialsSummary: () => ({ keyHint: `…${Math.floor(next() * 9000 + 1000)}` }),
    SmtpSettings: () => ({ host: pick(['smtp.sendgrid.net', 'smtp.mailgun.org', 'mail.example.com']), port: pick([465, 587, 2525]) }),
  };
  return addMocksToSchema({ schema: buildSchema(readFileSync(schemaPath, 'utf8')), mocks, preserveResolvers: false });
}
