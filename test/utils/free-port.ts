import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where the OS takes outgoing connections' local ports from (Linux; its default elsewhere). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A loopback port nothing listens on, for a server started a moment later (an app at PUBLIC_URL,
 * a private Redis or PostgreSQL, restarted on the same port). Picked below the ephemeral range:
 * a port the OS hands out (listen(0)) is also where it puts the next outgoing connection of any
 * process, which took the port before our server could bind it (EADDRINUSE) in busy runs.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 10_000;
  const high = Math.max(low + 1_000, ephemeralLow) - 1;
  for (let tries = 0; tries < 50; tries++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await bindable(port)) return port;
  }
  throw new Error(`No free port between ${low} and ${high}`);
}
