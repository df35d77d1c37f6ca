import type { DemoCommand } from './commands.js';
import type { Demo } from './demo.js';
import type { LogRecord } from './log-tap.js';

/**
 * How the demo is shown: a refreshing table on a terminal, or plain lines when stdout is a pipe
 * or a file. Both take the proxy's log records, the running demo, and sentences to show; both
 * turn what the user types into {@link DemoCommand}s.
 */
export interface DemoView {
  /** A log record of the proxy; records that come before {@link attach} are kept until then. */
  record(record: LogRecord): void;
  /** Everything runs: show where it is, then the live state. */
  attach(demo: Demo): void;
  /** A sentence for the user: what a command did, or why it was refused. */
  say(text: string): void;
  /** Show every backend's state now (the terminal table always does). */
  status(): void;
  /** Stops reading input and timers and gives the terminal back as it was. Idempotent. */
  close(): void;
}

export type OnCommand = (command: DemoCommand) => void;
