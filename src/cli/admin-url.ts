import { ConfigError } from '../config/config-error.js';

/** Where `run` puts its admin endpoint by default (`--admin-listen`), as a URL. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9445';

/**
 * The `--admin` flag of `status` and `doctor`: the admin endpoint's base URL, http, a host, no
 * query. The admin endpoint has no TLS: it is bound to loopback, or on purpose to a node address.
 */
export function adminUrl(given: string, where = '--admin'): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(where, given, `is not a URL (e.g. ${DEFAULT_ADMIN_URL})`);
  }
  if (url.protocol !== 'http:' || url.hostname === '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError(where, given, `is not an http:// URL (e.g. ${DEFAULT_ADMIN_URL})`);
  }
  return given;
}
