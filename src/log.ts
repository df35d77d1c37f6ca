import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/schema.js';

export type { Logger };

/**
 * Paths whose values are secrets. Nothing in kube-local-lb should log a credential in the first
 * place; redaction is the second line of defence for a field added by mistake.
 */
const REDACT = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'key',
  '*.key',
  'clientKey',
  '*.clientKey',
  'password',
  '*.password',
];

/**
 * The process logger: JSON lines, `event` is the field dashboards and tests match on, `msg` is
 * prose for people. `destination` defaults to stdout; tests pass an in-memory sink.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'kube-local-lb' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '<redacted>' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
