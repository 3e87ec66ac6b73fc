import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { dataSourceOptions } from './data-source-options';
import { QueryStats } from './query-stats';

/** Queries slower than this are reported (by duration only). */
const SLOW_QUERY_MS = 500;
const queryStats = new QueryStats();

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        logging: ['query', 'error'],
        logger: queryStats,
        maxQueryExecutionTime: SLOW_QUERY_MS,
        ...dataSourceOptions(config.database.url),
        // pg_stat_activity (and an operator reading it) tells API connections from workers'.
        applicationName: `mailroute-${config.role}`,
        // Migrations are applied before the app is built (main.ts, test setup), under a lock.
        migrationsRun: false,
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
  providers: [{ provide: QueryStats, useValue: queryStats }],
  exports: [QueryStats],
})
export class DatabaseModule {}
