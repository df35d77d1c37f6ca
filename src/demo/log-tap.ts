import { createLogger, type Logger } from '../log.js';

/** One parsed log record of the proxy: `event` names the kind (DESIGN.md "Logs"). */
export type LogRecord = Readonly<Record<string, unknown>>;

/**
 * The proxy's own logger, writing into the demo instead of stdout: the demo shows what the
 * proxy logs (state changes, ejects, replays), read from the same structured records an
 * operator's log pipeline gets, not from a side channel.
 */
export function tappedLogger(onRecord: (record: LogRecord) => void): Logger {
  return createLogger('info', {
    write(line: string): void {
      for (const text of line.split('\n')) {
        if (text.trim() === '') continue;
        let record: unknown;
        try {
          record = JSON.parse(text);
        } catch {
          // pino writes one JSON object per line; anything else is not ours to show.
          continue;
        }
        if (record !== null && typeof record === 'object') onRecord(record as LogRecord);
      }
    },
  });
}

/** A string field of a record, or '' when absent. */
export function field(record: LogRecord, name: string): string {
  const value = record[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}
