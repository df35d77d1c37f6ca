import { ConfigError } from './config-error.js';
import { CONFIG_FLAG, ENV_PREFIX, SETTINGS, SETTING_KEYS, envName, setGiven, type Layer, type SettingKey } from './settings.js';
import { suggest } from './suggest.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const CONFIG_ENV = envName(CONFIG_FLAG);

const KNOWN = [...SETTING_KEYS.map((key) => envName(SETTINGS[key].flag)), CONFIG_ENV];

/**
 * Variables Kubernetes itself sets in a pod when a Service named `kube-local-lb` exists
 * (service links: KUBE_LOCAL_LB_SERVICE_HOST, KUBE_LOCAL_LB_PORT_9445_TCP, ...). They are not
 * ours and must not stop the proxy.
 */
const SERVICE_LINK = new RegExp(`^${ENV_PREFIX}(SERVICE_HOST|SERVICE_PORT(_\\w+)?|PORT(_\\w+)?)$`);

/**
 * Reads the `KUBE_LOCAL_LB_*` variables: one per flag, named after it (`--health-interval` is
 * `KUBE_LOCAL_LB_HEALTH_INTERVAL`); lists are comma-separated. An unknown variable with our prefix
 * is an error, like an unknown flag: a typo would otherwise be silently ignored.
 */
export function readEnv(env: Env): Layer {
  for (const name of Object.keys(env)) {
    if (!name.startsWith(ENV_PREFIX) || KNOWN.includes(name) || SERVICE_LINK.test(name)) continue;
    const hint = suggest(name, KNOWN);
    throw new ConfigError(name, undefined, hint ? `unknown variable (did you mean ${hint}?)` : 'unknown variable');
  }
  const layer: Layer = {};
  for (const key of SETTING_KEYS) {
    const name = envName(SETTINGS[key].flag);
    const text = env[name];
    if (text !== undefined) readSetting(layer, key, text, name);
  }
  return layer;
}

function readSetting<K extends SettingKey>(layer: Layer, key: K, text: string, where: string): void {
  setGiven(layer, key, { value: SETTINGS[key].kind.fromText(text, where), where });
}
