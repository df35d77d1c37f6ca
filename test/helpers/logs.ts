import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export interface LogRecord {
  [key: string]: unknown;
  event?: string;
  level?: string;
  msg?: string;
}

/** A pino logger writing into memory, and helpers to find records by their fields. */
export interface LogSink {
  logger: Logger;
  records: LogRecord[];
  find(fields: Record<string, unknown>): LogRecord | undefined;
  all(fields: Record<string, unknown>): LogRecord[];
  /** Resolves with the first record (past or future) that has these fields; rejects after `ms`. */
  waitFor(fields: Record<string, unknown>, ms?: number): Promise<LogRecord>;
  text(): string;
}

export function logSink(level: 'debug' | 'info' = 'debug'): LogSink {
  const records: LogRecord[] = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        raw.push(line);
        records.push(JSON.parse(line) as LogRecord);
      }
      for (const w of [...waiters]) w();
      cb();
    },
  });
  const matches = (r: LogRecord, fields: Record<string, unknown>) =>
    Object.entries(fields).every(([k, v]) => r[k] === v);
  const find = (fields: Record<string, unknown>) => records.find((r) => matches(r, fields));
  return {
    logger: createLogger(level, stream),
    records,
    find,
    all: (fields) => records.filter((r) => matches(r, fields)),
    text: () => raw.join('\n'),
    waitFor(fields, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const hit = find(fields);
        if (hit) return resolve(hit);
        const check = () => {
          const r = find(fields);
          if (!r) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(r);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no log record with ${JSON.stringify(fields)} within ${ms} ms; have:\n${raw.slice(-30).join('\n')}`));
        }, ms);
        waiters.add(check);
      });
    },
  };
}
