import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { dataSourceOptions } from './data-source-options';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.database.url),
        // Migrations are applied before the app is built (main.ts, test setup), under a lock.
        migrationsRun: false,
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
})
export class DatabaseModule {}
