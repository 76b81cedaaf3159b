import type { SharesClient, StorageClient } from '../../clients/clients.js';
import type { Config } from '../../config/config.js';
import type { AuthService } from '../../modules/auth/auth.service.js';
import type { MediaUrlSigner } from '../../modules/images/media-url.js';
import type { UsageService } from '../../modules/usage/usage.service.js';

/** What the gateway needs from the other services: in process or over HTTP, the same interfaces. */
export interface GatewayDeps {
  config: Readonly<Config>;
  auth: AuthService;
  images: StorageClient;
  usage: UsageService;
  shares: SharesClient;
  mediaUrls: MediaUrlSigner;
}
