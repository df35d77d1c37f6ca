/**
 * The one guard for untrusted JSON and YAML: a plain object (not null, not an array), whose keys
 * may be read as unknown values.
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
