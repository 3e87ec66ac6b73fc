import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { checkPostgres, checkRedis } from '../../src/infra/preflight';

/**
 * The start-up check says "not reachable … start it" only when nothing answered (refused, no
 * such host, no answer in time). When a server or the driver answered, it quotes the answer and
 * does not send the operator to start a server that is running. No password reaches the line.
 */
describe('preflight', () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
  /** A TCP server on a free loopback port; `onData` sees everything the client sent so far. */
  const serve = async (onData: (socket: Socket, received: Buffer) => void): Promise<number> => {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        onData(socket, received);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const message = (type: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const SSL_REQUEST = 80877103;

  /**
   * A PostgreSQL that refuses TLS ('N') and asks for SCRAM-SHA-256, as a password-protected
   * server does; it answers the client's first SCRAM message with a server-first message.
   */
  const scramPostgres = (): Promise<number> => {
    let stage: 'startup' | 'sasl' | 'done' = 'startup';
    let offset = 0;
    return serve((socket, received) => {
      while (received.length - offset >= 4) {
        if (stage === 'startup') {
          const length = received.readInt32BE(offset);
          if (received.length - offset < length) return;
          const code = received.readInt32BE(offset + 4);
          offset += length;
          if (code === SSL_REQUEST) {
            socket.write('N');
            continue;
          }
          socket.write(message('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0', 'latin1')])));
          stage = 'sasl';
        } else if (stage === 'sasl') {
          if (received.length - offset < 5) return;
          const length = received.readInt32BE(offset + 1);
          if (received.length - offset < length + 1) return;
          offset += length + 1;
          socket.write(message('R', Buffer.concat([int32(11), Buffer.from('r=abcdefgh,s=c2FsdHNhbHQ=,i=4096', 'latin1')])));
          stage = 'done';
        } else return;
      }
    });
  };

  it('a password-protected PostgreSQL and a URL without password: says so, does not advise starting it', async () => {
    const port = await scramPostgres();
    const problem = await checkPostgres(`postgres://app@127.0.0.1:${port}/mailroute`);
    expect(problem).toBe(`PostgreSQL at postgres://app@127.0.0.1:${port}/mailroute asks for a password and DATABASE_URL has none: add it to DATABASE_URL (percent-encoded).`);
  });

  it("a TLS mismatch quotes the driver's answer, password removed, without advising to start the server", async () => {
    const port = await scramPostgres();
    const problem = await checkPostgres(`postgres://app:Sx9kpw@127.0.0.1:${port}/mailroute?sslmode=verify-full&sslpassword=Kp4zq`);
    expect(problem).toBe(
      `PostgreSQL at postgres://app:***@127.0.0.1:${port}/mailroute?sslmode=verify-full&sslpassword=*** could not be used: ` +
        'The server does not support SSL connections. Check DATABASE_URL.',
    );
  });

  it('an unparseable DATABASE_URL (the preflight also serves migration:run and reseal) says what the driver said, never the password', async () => {
    const problem = await checkPostgres('postgres://app:pa/Sx9kpw@127.0.0.1:5432/mailroute');
    expect(problem).toBe('PostgreSQL at (unparseable URL) could not be used: Invalid URL (ERR_INVALID_URL). Check DATABASE_URL.');
  });

  it('network failures still say "not reachable … start it": refused, unknown host, no answer in time', async () => {
    expect(await checkPostgres('postgres://app:Sx9kpw@127.0.0.1:1/mailroute')).toMatch(/^PostgreSQL is not reachable at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/mailroute \(ECONNREFUSED\)\. Start it .*pg_ctlcluster/);
    expect(await checkPostgres('postgres://app@no-such-host.invalid:5432/mailroute')).toMatch(/^PostgreSQL is not reachable at .* \((ENOTFOUND|EAI_AGAIN)\)\. Start it/);
    const silent = await serve(() => undefined);
    expect(await checkPostgres(`postgres://app@127.0.0.1:${silent}/mailroute`)).toMatch(/^PostgreSQL is not reachable at .* \(no answer within 5 s\)\. Start it/);
  }, 20_000);

  /** A Redis that answers each command line with `answer(args)`. */
  const fakeRedis = (answer: (args: string[]) => string): Promise<number> => {
    let offset = 0;
    return serve((socket, received) => {
      const text = received.toString('latin1');
      // *N\r\n then N × ($len\r\nvalue\r\n)
      const re = /\*(\d+)\r\n((?:\$\d+\r\n[^\r]*\r\n)*)/y;
      re.lastIndex = offset;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        const args = [...m[2].matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((a) => a[1]);
        if (args.length < Number(m[1])) return;
        offset = re.lastIndex;
        socket.write(answer(args));
      }
    });
  };

  it('a Redis that wants a password says so in its words, without advising to start it', async () => {
    const port = await fakeRedis(() => '-NOAUTH Authentication required.\r\n');
    expect(await checkRedis(`redis://127.0.0.1:${port}`)).toBe(`Redis at redis://127.0.0.1:${port} answered "NOAUTH Authentication required.": check REDIS_URL.`);
  });

  it("a Redis that echoes the password in its error: the password is taken out; ?password= is sent as ioredis sends it", async () => {
    const seen: string[][] = [];
    const port = await fakeRedis((args) => {
      seen.push(args);
      return args[0] === 'AUTH' ? `-ERR unknown command 'AUTH', with args beginning with: '${args[1]}'\r\n` : '+PONG\r\n';
    });
    const problem = await checkRedis(`redis://127.0.0.1:${port}/0?password=Sx9k%2Fpw`);
    expect(seen[0]).toEqual(['AUTH', 'Sx9k/pw']);
    expect(problem).toBe(`Redis at redis://127.0.0.1:${port}/0?password=*** answered "ERR unknown command 'AUTH', with args beginning with: '***'": check REDIS_URL.`);
  });

  it('something that is not Redis on the port, and an unparseable REDIS_URL: no advice to start Redis', async () => {
    const port = await serve((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(await checkRedis(`redis://127.0.0.1:${port}`)).toBe(`Redis at redis://127.0.0.1:${port} answered, but not as Redis does: check REDIS_URL.`);
    const unparseable = await checkRedis('redis://:pa/Sx9kpw@127.0.0.1:6379');
    expect(unparseable).toMatch(/^Redis at \(unparseable URL\) could not be used: Invalid URL \(ERR_INVALID_URL\); percent-encode/);
    expect(unparseable).not.toContain('Sx9k');
    expect(await checkRedis('redis://127.0.0.1:1')).toMatch(/^Redis is not reachable at redis:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)\. Start it/);
  });
});
