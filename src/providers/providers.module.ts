import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/configuration';
import { ElasticEmailAdapter } from './elastic-email/elastic-email.adapter';
import { MailgunAdapter } from './mailgun/mailgun.adapter';
import { ProviderGateway } from './provider-gateway';
import { SendGridAdapter } from './sendgrid/sendgrid.adapter';
import { SesAdapter } from './ses/ses.adapter';
import { SmtpTransport } from './smtp/smtp-transport';
import { SparkPostAdapter } from './sparkpost/sparkpost.adapter';

/** Closes pooled SMTP connections when the process stops. */
@Injectable()
class SmtpPoolCloser implements OnApplicationShutdown {
  constructor(@Inject(SmtpTransport) private readonly smtp: SmtpTransport) {}
  onApplicationShutdown(): Promise<void> {
    return this.smtp.closeAll();
  }
}

/** The provider layer as one injectable gateway; adapters stay plain classes. */
@Module({
  providers: [
    { provide: SmtpTransport, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new SmtpTransport(config.providers) },
    {
      provide: ProviderGateway,
      inject: [APP_CONFIG, SmtpTransport],
      useFactory: (config: AppConfig, smtp: SmtpTransport) =>
        new ProviderGateway(
          [
            new SesAdapter(config.providers),
            new SendGridAdapter(config.providers),
            new MailgunAdapter(config.providers),
            new SparkPostAdapter(config.providers),
            new ElasticEmailAdapter(config.providers),
          ],
          smtp,
        ),
    },
    SmtpPoolCloser,
  ],
  exports: [ProviderGateway],
})
export class ProvidersModule {}
