import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

/**
 * A debug-level pino logger that keeps counts, not records: how many lines of each `event`, and
 * of each `event:reason`, so that a soak of thousands of sessions holds no growing log in memory.
 * Error lines are kept whole (they should be few).
 */
export interface EventCounter {
  logger: Logger;
  /** Lines with this event, or with this event and reason (`session_closed:ejected`). */
  count(key: string): number;
  /** All counts, by `event` and by `event:reason`. */
  counts(): Record<string, number>;
  errors: string[];
}

export function eventCounter(): EventCounter {
  const counts = new Map<string, number>();
  const errors: string[] = [];
  const bump = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        const record = JSON.parse(line) as { event?: unknown; reason?: unknown; level?: unknown };
        const event = typeof record.event === 'string' ? record.event : '(none)';
        bump(event);
        if (typeof record.reason === 'string') bump(`${event}:${record.reason}`);
        if (record.level === 'error' || record.level === 'fatal') errors.push(line);
      }
      done();
    },
  });
  return {
    logger: createLogger('debug', stream),
    count: (key) => counts.get(key) ?? 0,
    counts: () => Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    errors,
  };
}
