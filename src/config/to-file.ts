import type { Config } from './schema.js';
import { SETTINGS, SETTING_KEYS, type SettingKey, type Settings } from './settings.js';

/**
 * `config` in the shape of the YAML config file, every setting present (unset credential files
 * left out): what `check-config` prints, and a file `--config` reads back to the same config.
 *
 * It holds no secret: credentials are only ever file paths, whose contents are never read here.
 */
export function toFileDocument(config: Config): Record<string, unknown> {
  const settings = flatten(config);
  const document: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) put(document, key, settings[key]);
  return document;
}

function put<K extends SettingKey>(document: Record<string, unknown>, key: K, value: Settings[K] | undefined): void {
  if (value === undefined) return;
  const path = SETTINGS[key].file.split('.');
  const leaf = path.pop() ?? '';
  let target = document;
  for (const section of path) {
    const existing = target[section];
    const next: Record<string, unknown> = typeof existing === 'object' && existing !== null ? (existing as Record<string, unknown>) : {};
    target[section] = next;
    target = next;
  }
  target[leaf] = SETTINGS[key].kind.toFile(value);
}

type MaybeSettings = { [K in SettingKey]: Settings[K] | undefined };

function flatten(config: Config): MaybeSettings {
  const { health } = config;
  return {
    listen: config.listen,
    backends: config.backends,
    balance: config.balance,
    connectTimeoutMs: config.connectTimeoutMs,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    replay: config.replay,
    maxConnections: config.maxConnections,
    drainTimeoutMs: config.drainTimeoutMs,
    slowStartMs: config.slowStartMs,
    shutdownGraceMs: config.shutdownGraceMs,
    ejectSpreadMs: config.ejectSpreadMs,
    rebalance: config.rebalance,
    rebalanceIntervalMs: config.rebalanceIntervalMs,
    rebalanceQuietMs: config.rebalanceQuietMs,
    healthPath: health.path,
    healthIntervalMs: health.intervalMs,
    healthTimeoutMs: health.timeoutMs,
    healthFall: health.fall,
    healthRise: health.rise,
    healthScheme: health.scheme,
    healthAuth: health.auth,
    healthTokenFile: health.tokenFile,
    healthClientCertFile: health.clientCertFile,
    healthClientKeyFile: health.clientKeyFile,
    healthKubeconfigFile: health.kubeconfigFile,
    healthCaFile: health.caFile,
    healthTlsServerName: health.tlsServerName,
    healthInsecureSkipVerify: health.insecureSkipVerify,
    discover: config.discovery.enabled,
    discoverPortOverride: config.discovery.portOverride,
    stateDir: config.discovery.stateDir ?? '',
    clusterIp: config.clusterIp.target,
    clusterIpInterface: config.clusterIp.interface,
    clusterIpLinkLocal: config.clusterIp.linkLocal,
    adminListen: config.adminListen,
    logLevel: config.logLevel,
  };
}
