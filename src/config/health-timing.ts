import type { HealthConfig } from './schema.js';

/**
 * A health timeout longer than the interval is allowed (a slow network may need it), but it
 * stretches detection: a silent apiserver is found down after `fall` timeouts, not `fall`
 * intervals. The sentence `run` logs at start and `check-config` prints; undefined when the
 * timeout fits the interval.
 */
export function healthTimeoutWarning({ timeoutMs, intervalMs, fall }: HealthConfig): string | undefined {
  if (timeoutMs <= intervalMs) return undefined;
  return `health checks time out after ${timeoutMs} ms but are due every ${intervalMs} ms: ` +
    `a silent apiserver is found down after ${fall} x ${timeoutMs} ms, not ${fall} x ${intervalMs} ms`;
}
