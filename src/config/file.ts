import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from './config-error.js';
import { describeFileError } from './file-access.js';
import { SETTINGS, SETTING_KEYS, setGiven, type Layer, type SettingKey } from './settings.js';
import { unknownKey } from './values.js';
import { MAX_YAML_DEPTH, yamlDepth } from './yaml-depth.js';
import { isObject } from '../json.js';
import { yaml } from '../lazy-yaml.js';

/** Aliases in a YAML file are expanded; this bounds a "billion laughs" file. */
const MAX_ALIAS_COUNT = 100;

/** Top-level keys (and the keys of sections such as `health`) mapped to settings. */
const BY_FILE_KEY = new Map<string, SettingKey>(SETTING_KEYS.map((key) => [SETTINGS[key].file, key]));
const TOP_LEVEL = [...new Set(SETTING_KEYS.map((key) => SETTINGS[key].file.split('.')[0] ?? ''))];

/**
 * Reads the YAML config file at `path` (named by `where`: `--config` or its variable) into a
 * layer. Keys mirror the flags in camelCase, grouped (`health: {interval: 2s}`); an unknown key
 * is an error, so that a typo is never silently ignored. Values are named `path: key`.
 */
export function readConfigFile(path: string, where: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(where, path, `cannot be read: ${describeFileError(err)}`);
  }
  if (yamlDepth(text) > MAX_YAML_DEPTH) throw new ConfigError(path, undefined, `nests collections more than ${MAX_YAML_DEPTH} levels deep: not a config file`);
  // logLevel error: yaml's warnings (a key that is a collection, say) would go to stderr as
  // lines of their own, beside the one line that reports the file.
  const document = yaml().parseDocument(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  const [syntaxError] = document.errors;
  if (syntaxError) {
    const [start] = syntaxError.linePos ?? [];
    const at = start ? `${path}:${start.line}:${start.col}` : path;
    throw new ConfigError(at, undefined, `not valid YAML: ${firstLine(syntaxError.message)}`);
  }
  let root: unknown;
  try {
    root = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // An alias to a missing anchor, or too many aliases: still a malformed file.
    throw new ConfigError(path, undefined, `not valid YAML: ${firstLine(err instanceof Error ? err.message : String(err))}`);
  }
  // An empty file (or one with only comments) sets nothing.
  if (root === null || root === undefined) return {};
  if (!isObject(root)) throw new ConfigError(path, undefined, 'must be a YAML mapping of settings (e.g. backends: [10.0.0.1:6443])');

  const layer: Layer = {};
  const baseDir = dirname(path);
  const read = (fileKey: string, value: unknown, known: readonly string[]): void => {
    const key = BY_FILE_KEY.get(fileKey);
    const name = fileKey.split('.').pop() ?? fileKey;
    if (key === undefined) throw unknownKey(`${path}: ${fileKey}`, name, known);
    readSetting(layer, key, value, `${path}: ${fileKey}`, baseDir);
  };
  for (const [topKey, value] of Object.entries(root)) {
    if (!TOP_LEVEL.includes(topKey)) throw unknownKey(`${path}: ${topKey}`, topKey, TOP_LEVEL);
    const section = sectionKeys(topKey);
    if (section.length === 0) {
      read(topKey, value, TOP_LEVEL);
      continue;
    }
    if (!isObject(value)) throw new ConfigError(`${path}: ${topKey}`, value, `is not a mapping (e.g. ${topKey}: {${section[0] ?? ''}: ...})`);
    for (const [subKey, subValue] of Object.entries(value)) read(`${topKey}.${subKey}`, subValue, section);
  }
  return layer;
}

function readSetting<K extends SettingKey>(layer: Layer, key: K, value: unknown, where: string, baseDir: string): void {
  setGiven(layer, key, { value: SETTINGS[key].kind.fromFile(value, where, baseDir), where });
}

/** The keys of section `topKey` (`health` -> path, interval, ...); none for a plain setting. */
function sectionKeys(topKey: string): string[] {
  return SETTING_KEYS.map((key) => SETTINGS[key].file)
    .filter((file) => file.startsWith(`${topKey}.`))
    .map((file) => file.slice(topKey.length + 1));
}

/** yaml's messages end with a code excerpt after the first line; the position is given apart. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}
