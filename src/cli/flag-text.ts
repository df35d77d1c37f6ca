import { ConfigError } from '../config/config-error.js';
import { lastText } from '../config/flag-value.js';

export { lastText };

/**
 * Flags of the commands that are not settings (demo, kubeconfig, doctor), read the way
 * config/load.ts reads settings: as text, parsed here, errors naming the flag. yargs' own
 * boolean and number types would turn `--check=maybe` into false and `--clients=x` into NaN
 * without a word.
 */


/** Every value of a repeatable flag, comma-separated items split. */
export function textList(raw: unknown): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw])
    .flatMap((item) => String(item).split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** A switch: absent or `false` is off; alone (`--check`, which arrives as '') or `true` is on. */
export function switchValue(raw: unknown, where: string): boolean {
  const given = lastText(raw);
  if (given === undefined || given === 'false') return false;
  if (given === '' || given === 'true') return true;
  throw new ConfigError(where, given, 'is not true or false');
}
