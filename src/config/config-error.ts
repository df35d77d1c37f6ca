/** Longest quoted value in a message: a whole YAML subtree would drown the one line that matters. */
const MAX_VALUE_CHARS = 80;

/**
 * A value the operator gave that kube-local-lb cannot run with. The message is the whole report:
 * where the value came from (a flag, an environment variable, or `file: key`), the value, and
 * what was expected, e.g. `--health-interval: "fast" is not a duration (e.g. 2s, 500ms)`.
 * `value` undefined means nothing was given (a missing setting, an unknown key): the message is
 * then `where: expected`. Only `main.ts` turns it into exit code 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly where: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(value === undefined ? `${where}: ${expected}` : `${where}: ${quote(value)} ${expected}`);
  }
}

function quote(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A value JSON cannot write (a BigInt from a YAML !!int tag, say) is still worth showing.
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}
