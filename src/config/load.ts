import { resolve } from 'node:path';
import { ConfigError } from './config-error.js';
import { CONFIG_ENV, readEnv, type Env } from './env.js';
import { readConfigFile } from './file.js';
import { lastText } from './flag-value.js';
import { DEFAULTS, type Config } from './schema.js';
import { CONFIG_FLAG, SETTINGS, SETTING_KEYS, setGiven, splitPath, type Layer, type SettingKey, type Source } from './settings.js';
import { validateSettings, type Effective, type EffectiveSettings } from './validate.js';

/**
 * Parsed command-line flags, as yargs gives them: keys are flag names without dashes
 * (`health-interval`), values strings, lists of strings (a repeated flag) or booleans. Other keys
 * (`_`, `$0`) are ignored.
 */
export type FlagValues = Readonly<Record<string, unknown>>;

export type { Env };

/**
 * The effective config from its three sources, each overriding the one before: the YAML file
 * (`--config` or KUBE_LOCAL_LB_CONFIG), `KUBE_LOCAL_LB_*` variables, then flags. A list given by
 * a later source replaces the earlier list; it is not appended to.
 *
 * Synchronous (it reads the config file and checks that credential files are readable), so it
 * can run in a signal handler's turn. Throws ConfigError, naming the flag, variable or `file: key`
 * and the value, for anything kube-local-lb would not run with. Call it again with the same
 * arguments to re-read the file on reload.
 */
export function loadConfig(flags: FlagValues, env: Env): Config {
  const envLayer = readEnv(env);
  const configFile = configFilePath(flags, env);
  const fileLayer = configFile ? readConfigFile(configFile.path, configFile.where) : {};
  const flagLayer = readFlags(flags);

  const settings = {} as EffectiveSettings;
  for (const key of SETTING_KEYS) merge(settings, key, [fileLayer, envLayer, flagLayer]);
  validateSettings(settings);
  return toConfig(settings, configFile?.path);
}

/** The config file named by `--config` or else KUBE_LOCAL_LB_CONFIG, made absolute. */
function configFilePath(flags: FlagValues, env: Env): { path: string; where: string } | undefined {
  const flag = lastText(flags[CONFIG_FLAG]);
  const [text, where] = flag !== undefined ? [flag, `--${CONFIG_FLAG}`] : [env[CONFIG_ENV], CONFIG_ENV];
  if (text === undefined) return undefined;
  if (text.trim() === '') throw new ConfigError(where, text, 'is not a file path');
  return { path: resolve(text), where };
}

function readFlags(flags: FlagValues): Layer {
  const layer: Layer = {};
  for (const key of SETTING_KEYS) readFlag(layer, key, flags);
  return layer;
}

function readFlag<K extends SettingKey>(layer: Layer, key: K, flags: FlagValues): void {
  const spec = SETTINGS[key];
  const raw = flags[spec.flag];
  if (raw === undefined) return;
  // A switch given alone (`--health-insecure-skip-verify`) arrives as "".
  const alone = spec.kind.flagAlone;
  const texts = (Array.isArray(raw) ? raw : [raw]).map((item) => (item === '' && alone !== undefined ? alone : String(item)));
  const where = `--${spec.flag}`;
  const { concat } = spec.kind;
  if (concat) {
    // Each occurrence of a list flag stands alone (`--backend priority=1` is not an option of the
    // previous --backend); together they make the list.
    const parts = texts.map((text) => spec.kind.fromText(text, where));
    setGiven(layer, key, { value: concat(parts, where), where });
    return;
  }
  // A repeated single-value flag keeps the last, as most CLIs do.
  const text = texts[texts.length - 1];
  if (text === undefined) return;
  setGiven(layer, key, { value: spec.kind.fromText(text, where), where });
}

const LAYER_SOURCES: Source[] = ['file', 'env', 'flag'];

function merge<K extends SettingKey>(settings: EffectiveSettings, key: K, layers: Layer[]): void {
  const spec = SETTINGS[key];
  let effective: Effective<K> = { value: spec.default, where: `--${spec.flag}`, source: 'default' };
  layers.forEach((layer, i) => {
    const given = layer[key];
    if (given !== undefined) effective = { ...given, source: LAYER_SOURCES[i] ?? 'flag' };
  });
  const view: { [P in K]: Effective<P> } = settings;
  view[key] = effective;
}

/**
 * The nested `Config`: each setting at the place its row names (`SETTINGS[key].config`). A
 * setting without a value (an unset credential file) is left undefined; validateSettings has
 * refused a missing required one.
 */
function toConfig(settings: EffectiveSettings, configFile: string | undefined): Config {
  const config: Record<string, unknown> = {
    health: {}, discovery: {}, clusterIp: {}, replayBufferBytes: DEFAULTS.replayBufferBytes, configFile,
  };
  for (const key of SETTING_KEYS) {
    const [section, leaf] = splitPath(SETTINGS[key].config);
    const target = section === undefined ? config : (config[section] as Record<string, unknown>);
    target[leaf] = settings[key].value;
  }
  return config as unknown as Config;
}
