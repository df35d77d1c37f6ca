/** The last value of a flag (a repeated flag arrives as a list), or undefined when absent. */
export function lastText(raw: unknown): string | undefined {
  const last: unknown = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return last === undefined ? undefined : String(last);
}
