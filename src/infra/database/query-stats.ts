import type { Logger as TypeOrmLogger } from 'typeorm';
import { Logger } from '@nestjs/common';


/**
 * Counts the SQL statements this process sends (tests and benchmarks assert bounded query
 * counts with it) and reports slow ones — by duration only, never with their SQL or parameters.
 */
export class QueryStats implements TypeOrmLogger {
  private readonly logger = new Logger('Database');
  count = 0;

  logQuery(): void {
    this.count++;
  }
  logQueryError(error: string | Error): void {
    this.logger.warn(`A query failed: ${error instanceof Error ? error.name : 'error'}`);
  }
  logQuerySlow(time: number): void {
    this.logger.warn(`A query took ${time} ms`);
  }
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
