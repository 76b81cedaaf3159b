import type { SharesClient, StorageClient, UploadsClient } from '../../clients/clients.js';
import type { Config } from '../../config/config.js';
import type { AuthService } from '../../modules/auth/auth.service.js';
import type { MediaUrlSigner } from '../../modules/images/media-url.js';
import type { UsageService } from '../../modules/usage/usage.service.js';

/** What the gateway needs from the other services: in process or over HTTP, the same interfaces. */
export interface GatewayServices {
  auth: AuthService;
  images: StorageClient;
  usage: UsageService;
  shares: SharesClient;
  uploads: UploadsClient;
}

export interface GatewayDeps {
  config: Readonly<Config>;
  mediaUrls: MediaUrlSigner;
  /**
   * The services as this request calls them: in pod mode their calls carry its id. Without a
   * request (checking a token, reading media), calls carry none.
   */
  services(request?: { id: string }): GatewayServices;
}
