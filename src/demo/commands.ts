/**
 * What a demo user can ask for, as typed lines (`kill 1`, when stdin is not a terminal) or single
 * keys (on a terminal: 1/2/3 select a backend, then k, b, d or r act on it).
 */

/** The faults and the cure, named as the user types them. */
export const ACTIONS = ['kill', 'blackhole', 'drain', 'revive'] as const;
export type Action = (typeof ACTIONS)[number];

export type DemoCommand =
  /** `backend` counts from 1, as the table shows it. */
  | { kind: 'act'; action: Action; backend: number }
  | { kind: 'select'; backend: number }
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'invalid'; message: string };

const ACTION_BY_KEY: Readonly<Record<string, Action>> = { k: 'kill', b: 'blackhole', d: 'drain', r: 'revive' };

/** Help for line mode: one line. */
export const LINE_HELP = 'commands: kill N, blackhole N, drain N, revive N (N = 1, 2, 3), status, quit';

/** Help for key mode: one line. */
export const KEY_HELP = 'keys: 1/2/3 select a backend · k kill · b blackhole · d drain · r revive · q quit';

/** One typed line; null for an empty one. */
export function parseLine(line: string, backends: number): DemoCommand | null {
  const words = line.trim().toLowerCase().split(/\s+/).filter((word) => word !== '');
  const [verb, target, extra] = words;
  if (verb === undefined) return null;
  if (['q', 'quit', 'exit'].includes(verb) && target === undefined) return { kind: 'quit' };
  if (['s', 'status'].includes(verb) && target === undefined) return { kind: 'status' };
  if (['h', 'help', '?'].includes(verb) && target === undefined) return { kind: 'help' };
  const action = ACTIONS.find((name) => name === verb) ?? ACTION_BY_KEY[verb];
  if (action === undefined) return { kind: 'invalid', message: `${JSON.stringify(verb)} is not a command; ${LINE_HELP}` };
  const backend = Number(target);
  if (target === undefined || extra !== undefined || !Number.isInteger(backend) || backend < 1 || backend > backends) {
    return { kind: 'invalid', message: `${action} needs one backend number, 1-${backends} (e.g. ${action} 1)` };
  }
  return { kind: 'act', action, backend };
}

/** One key pressed on the terminal; null for a key with no meaning. */
export function parseKey(key: string, selected: number, backends: number): DemoCommand | null {
  // Ctrl-C and Ctrl-D arrive as bytes in raw mode, not as signals.
  if (key === 'q' || key === '\u0003' || key === '\u0004') return { kind: 'quit' };
  const number = Number(key);
  if (/^[1-9]$/.test(key) && number <= backends) return { kind: 'select', backend: number };
  const action = ACTION_BY_KEY[key];
  return action === undefined ? null : { kind: 'act', action, backend: selected };
}
