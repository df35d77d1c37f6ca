import { addressKey, formatHostPort } from './address.js';
import { ConfigError } from './config-error.js';
import { assertReadableFile, assertUsableDirectory } from './file-access.js';
import { DEFAULTS, type HealthAuth, type HostPort } from './schema.js';
import { settingName, type SettingKey, type Settings, type Source } from './settings.js';

/** A setting's effective value (undefined: not set, no default) and where it came from. */
export interface Effective<K extends SettingKey> {
  value: Settings[K] | undefined;
  where: string;
  source: Source;
}

export type EffectiveSettings = { [K in SettingKey]: Effective<K> };

/** The credential file settings each `--health-auth` mode needs; any other is refused. */
const CREDENTIALS: Record<HealthAuth, SettingKey[]> = {
  anonymous: [],
  token: ['healthTokenFile'],
  'client-cert': ['healthClientCertFile', 'healthClientKeyFile'],
  kubeconfig: ['healthKubeconfigFile'],
};

const CREDENTIAL_KEYS = ['healthTokenFile', 'healthClientCertFile', 'healthClientKeyFile', 'healthKubeconfigFile'] as const;
const FILE_KEYS = [...CREDENTIAL_KEYS, 'healthCaFile'] as const;

/**
 * Rules that span settings, checked once the sources are merged, so that a flag can fix what
 * the file got wrong. Each error names the setting the operator should change, as they gave it.
 */
export function validateSettings(settings: EffectiveSettings): void {
  if (settings.backends.value === undefined) {
    throw new ConfigError(
      '--backend',
      undefined,
      'missing: at least one apiserver HOST:PORT is required (or KUBE_LOCAL_LB_BACKEND, or backends in the config file)',
    );
  }

  const auth = settings.healthAuth;
  const mode = auth.value ?? 'anonymous';
  for (const key of CREDENTIALS[mode]) {
    if (settings[key].value === undefined) {
      throw new ConfigError(auth.where, mode, `needs ${settingName(key, auth.source)}`);
    }
  }
  for (const key of CREDENTIAL_KEYS) {
    const given = settings[key];
    if (given.value === undefined || CREDENTIALS[mode].includes(key)) continue;
    const needs = Object.entries(CREDENTIALS).find(([, keys]) => keys.includes(key))?.[0] ?? '';
    const authName = settingName('healthAuth', given.source);
    throw new ConfigError(given.where, given.value, `is only used with ${authName} ${needs} (it is ${mode})`);
  }
  for (const key of FILE_KEYS) {
    const given = settings[key];
    if (given.value !== undefined) assertReadableFile(given.value, given.where);
  }

  validateDiscovery(settings);
  validateClusterIp(settings);

  const admin = settings.adminListen;
  if (admin.value) {
    const adminKey = addressKey(admin.value);
    const clash = (settings.listen.value ?? []).find((address) => address.port !== 0 && addressKey(address) === adminKey);
    if (clash) {
      const listenName = settingName('listen', admin.source);
      throw new ConfigError(admin.where, formatHostPort(admin.value), `is also a proxy address (${listenName})`);
    }
  }
}

/** Discovery's own settings mean nothing without it: given alone they are a mistake, not a no-op. */
function validateDiscovery(settings: EffectiveSettings): void {
  const discover = settings.discover;
  const enabled = discover.value ?? false;
  for (const key of ['discoverPortOverride', 'stateDir'] as const) {
    const given = settings[key];
    const unset = given.value === undefined || given.value === 0 || given.value === '';
    if (unset || enabled) continue;
    throw new ConfigError(given.where, given.value, `is only used with ${settingName('discover', given.source)} (it is false)`);
  }
  const stateDir = settings.stateDir;
  if (stateDir.value) assertUsableDirectory(stateDir.value, stateDir.where);
}

/**
 * Rules across the ClusterIP settings and the listeners: an interface given without an address
 * to hold is a mistake, and neither address may also be a --listen or --admin-listen address.
 */
export function validateClusterIp(settings: EffectiveSettings): void {
  const target = settings.clusterIp;
  const linkLocal = settings.clusterIpLinkLocal;
  const iface = settings.clusterIpInterface;
  const held: { address: HostPort; where: string }[] = [];
  if (target.value?.kind === 'address') held.push({ address: target.value, where: target.where });
  if (linkLocal.value) held.push({ address: linkLocal.value, where: linkLocal.where });
  // The default printed back by check-config is not a choice the operator made.
  if (iface.value !== undefined && iface.value !== DEFAULTS.clusterIp.interface && target.value?.kind !== 'address' && target.value?.kind !== 'auto' && !linkLocal.value) {
    throw new ConfigError(iface.where, iface.value, `is only used with ${settingName('clusterIp', iface.source)} or ${settingName('clusterIpLinkLocal', iface.source)}`);
  }
  const [first, second] = held;
  if (first && second && addressKey(first.address) === addressKey(second.address)) {
    throw new ConfigError(second.where, formatHostPort(second.address), `is also ${settingName('clusterIp', target.source)}`);
  }
  for (const { address, where } of held) {
    const clash = (settings.listen.value ?? []).find((listen) => listen.port !== 0 && addressKey(listen) === addressKey(address));
    if (clash) throw new ConfigError(where, formatHostPort(address), `is also a proxy address (${settingName('listen', settings.listen.source)})`);
    const admin = settings.adminListen.value;
    if (admin && addressKey(admin) === addressKey(address)) {
      throw new ConfigError(where, formatHostPort(address), `is also the admin address (${settingName('adminListen', settings.adminListen.source)})`);
    }
  }
}
