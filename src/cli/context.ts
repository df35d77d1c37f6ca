import type { Env } from '../config/env.js';
import type { Service } from '../service/service.js';

/**
 * What a command leaves for main.ts: nothing more to do (with the exit code of what it found:
 * 0 by default, 1 for a problem found, as `status` and `doctor` document), or a service to keep
 * running.
 */
export type Outcome = { kind: 'done'; exitCode?: 0 | 1 } | { kind: 'serving'; service: Service };

/** What commands receive from the CLI instead of reaching for `process`. */
export interface CliContext {
  env: Env;
  stdout: { write(text: string): unknown };
  /** Called by a command's handler with its outcome. */
  finish(outcome: Outcome): void;
}
