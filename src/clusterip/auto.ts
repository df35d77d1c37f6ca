import { isIP } from 'node:net';
import type { Pool } from '../backends/pool.js';
import type { HostPort } from '../config/schema.js';
import { getJson } from '../discovery/api-client.js';
import { CLUSTER_IP_PORT } from '../config/cluster-ip-values.js';

const SERVICE_PATH = '/api/v1/namespaces/default/services/kubernetes';

/**
 * `--cluster-ip auto`: GET Service default/kubernetes from a backend that is up, with the health
 * checks' credential and TLS settings (as discovery does), and read spec.clusterIP and the port
 * named https. The credential needs `get` on services in namespace default.
 */
export async function readClusterIp(pool: Pool, signal: AbortSignal): Promise<HostPort> {
  const backend = pool.backends.find((b) => !b.removed && b.state.kind === 'up');
  if (!backend) throw new Error('no backend is up to ask');
  const h = pool.health;
  const credentials = await pool.probeCredentials();
  const body = await getJson(backend, SERVICE_PATH, {
    scheme: h.scheme, tlsServerName: h.tlsServerName, insecureSkipVerify: h.insecureSkipVerify, credentials, timeoutMs: 10_000,
  }, signal);
  return clusterIpOf(body, backend.address);
}

/** The address and port a Service object publishes, or an error saying what is missing. */
export function clusterIpOf(body: unknown, from: string): HostPort {
  const spec = (body as { spec?: { clusterIP?: unknown; ports?: { name?: unknown; port?: unknown }[] } } | null)?.spec;
  const host = spec?.clusterIP;
  if (typeof host !== 'string' || isIP(host) === 0) {
    throw new Error(`Service default/kubernetes from ${from} has no spec.clusterIP address (${JSON.stringify(host) ?? 'none'})`);
  }
  const ports = Array.isArray(spec?.ports) ? spec.ports : [];
  const https = ports.find((p) => p.name === 'https') ?? ports[0];
  const port = typeof https?.port === 'number' && https.port > 0 && https.port < 65536 ? https.port : CLUSTER_IP_PORT;
  return { host, port };
}
