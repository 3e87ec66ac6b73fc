import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  /** Parsed JSON body when the request carried JSON. */
  json: unknown;
  /** When its body was in (Date.now()), which is when the fake answers it unless it hangs. */
  receivedAt: number;
}

/** Switchable failure modes every provider fake honours. */
export type FailureMode =
  | { kind: 'none' }
  | { kind: 'status'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'hang' };

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type Route = (req: RecordedRequest, params: Record<string, string>) => FakeReply | Promise<FakeReply>;

/**
 * A tiny HTTP server on 127.0.0.1 for provider fakes: routes by method and path pattern
 * (`/v3/:domain/messages`), records every request, and can be told to fail or hang.
 */
export class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];
  private readonly routes: { method: string; pattern: RegExp; keys: string[]; handler: Route }[] = [];
  private failure: FailureMode = { kind: 'none' };
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();

  route(method: string, path: string, handler: Route): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' + path.replace(/:([A-Za-z_]+)/g, (_m, key: string) => (keys.push(key), '([^/]+)')) + '/?$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }

  /** Every following request fails this way until fail({ kind: 'none' }). */
  fail(mode: FailureMode): void {
    this.failure = mode;
  }

  async start(): Promise<string> {
    // A client that aborts mid-body, or stop() closing connections during an upload, ends the
    // read of the body with an error: that request is simply dropped.
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://fake');
    let json: unknown;
    if (String(req.headers['content-type'] ?? '').includes('json') || rawBody[0] === 0x7b || rawBody[0] === 0x5b) {
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        json = undefined;
      }
    }
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      json,
      receivedAt: Date.now(),
    };
    this.requests.push(recorded);

    if (this.failure.kind === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (this.failure.kind === 'status') {
      return send(res, { status: this.failure.status, body: this.failure.body, headers: this.failure.headers });
    }
    for (const r of this.routes) {
      if (r.method !== recorded.method) continue;
      const m = r.pattern.exec(recorded.path);
      if (!m) continue;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, m[i + 1]]));
      try {
        return send(res, await r.handler(recorded, params));
      } catch (err) {
        return send(res, { status: 500, body: { message: err instanceof Error ? err.message : 'fake error' } });
      }
    }
    send(res, { status: 404, body: { message: `fake: no route for ${recorded.method} ${recorded.path}` } });
  }
}

function send(res: ServerResponse, reply: FakeReply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let body = '';
  if (typeof reply.body === 'string') body = reply.body;
  else if (reply.body !== undefined) {
    body = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}
