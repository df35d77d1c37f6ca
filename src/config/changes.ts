import type { Config } from './schema.js';

/** A part of the config, as a reload compares it: one top-level key. */
export type Section = keyof Config;

/**
 * What a reload changes: the top-level keys of `next` whose value differs from `old`, compared by
 * value (objects key by key, arrays item by item). Pure; the one place that tells what changed,
 * so each part of the app is told whether its settings did.
 */
export function configChanges(old: Config, next: Config): ReadonlySet<Section> {
  const changed = new Set<Section>();
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)]) as Set<Section>) {
    if (!sameValue(old[key], next[key])) changed.add(key);
  }
  return changed;
}

/** Plain data (what a Config holds) compared by value. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const otherKeys = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return keys.length === otherKeys.length && keys.every((k) => sameValue(ra[k], rb[k]));
}
