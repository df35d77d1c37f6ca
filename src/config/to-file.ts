import type { Config } from './schema.js';
import { SETTINGS, SETTING_KEYS, splitPath, type SettingKey, type Settings } from './settings.js';

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

/** Each setting read back from the place in `Config` its row names. */
function flatten(config: Config): MaybeSettings {
  const nested = config as unknown as Record<string, unknown>;
  const settings: Partial<Record<SettingKey, unknown>> = {};
  for (const key of SETTING_KEYS) {
    const [section, leaf] = splitPath(SETTINGS[key].config);
    const source = section === undefined ? nested : (nested[section] as Record<string, unknown>);
    settings[key] = source[leaf];
  }
  return settings as MaybeSettings;
}
