import { Client } from 'pg';
import { waitFor } from '../utils/wait-for';

/**
 * Runs `start` (a request by an ACCOUNT token that reads the server, then checks its tenancy,
 * then writes) and holds it between its read and its write while `meanwhile` runs. Table locks
 * from other connections do the holding: one on delivery_servers stops it at its read, after
 * authentication (which reads api_tokens and accounts); one on accounts, taken while it waits
 * there, stops it at the tenancy check that follows the read. `meanwhile` must not read
 * accounts: ADMIN requests on the server that ask for none of its account fields do not.
 */
export async function heldAfterRead<T>(databaseUrl: string, start: () => Promise<T>, meanwhile: () => Promise<void>): Promise<T> {
  const connect = async (): Promise<Client> => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    return client;
  };
  const [serversLock, accountsLock, observer] = [await connect(), await connect(), await connect()];
  // A read of `entity` (TypeORM's alias; the FROM clause may lie past the length of query text Postgres keeps) blocked by `lock`.
  const waitingOn = async (lock: Client, entity: string): Promise<void> => {
    const [{ pid }] = (await lock.query('SELECT pg_backend_pid() AS pid')).rows as { pid: number }[];
    await waitFor(`a read of ${entity} waiting for the lock`, async () => {
      const { rows } = await observer.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE $2`, [pid, `SELECT "${entity}".%`]);
      return rows.length > 0;
    });
  };
  let running: Promise<T> | undefined;
  try {
    await serversLock.query('BEGIN');
    await serversLock.query('LOCK TABLE delivery_servers IN ACCESS EXCLUSIVE MODE');
    running = start();
    await waitingOn(serversLock, 'DeliveryServerEntity');
    await accountsLock.query('BEGIN');
    await accountsLock.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
    await serversLock.query('COMMIT');
    await waitingOn(accountsLock, 'AccountEntity');
    await meanwhile();
    await accountsLock.query('COMMIT');
    return await running;
  } finally {
    // Whatever failed, nothing stays locked and the held request ends before the next test.
    await serversLock.end();
    await accountsLock.end();
    await observer.end();
    await running?.catch(() => undefined);
  }
}
