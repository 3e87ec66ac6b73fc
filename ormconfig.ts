// The TypeORM CLI data source (migration:generate / migration:run), built from the same
// validated configuration as the app.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildAppConfig } from './src/config/configuration';
import { validateEnv } from './src/config/env.validation';
import { dataSourceOptions } from './src/infra/database/data-source-options';

export default new DataSource(dataSourceOptions(buildAppConfig(validateEnv(process.env)).database.url));
