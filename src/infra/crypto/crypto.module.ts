import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/configuration';
import { CredentialsCipher } from './credentials-cipher';

@Global()
@Module({
  providers: [
    {
      provide: CredentialsCipher,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new CredentialsCipher(config.credentials.keys, config.credentials.currentKeyId),
    },
  ],
  exports: [CredentialsCipher],
})
export class CryptoModule {}
