/**
 * Durations as operators write them: a sequence of `<number><unit>` with units `h`, `m`, `s` and
 * `ms` (`2s`, `500ms`, `1m30s`, `1.5s`), like Go's time.ParseDuration that kubelet and kubeadm
 * users already know. A bare `0` is zero. Bounds are the caller's business.
 */

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
const WHOLE = /^-?(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;

/**
 * Milliseconds, rounded to a whole millisecond, or undefined when `text` is not a duration.
 * A leading `-` gives a negative result so that the caller can say "out of range" rather than
 * "not a duration".
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!WHOLE.test(text)) return undefined;
  let ms = 0;
  for (const [, amount = '', unit = ''] of text.matchAll(PART)) {
    ms += Number(amount) * unitMs(unit);
  }
  ms = Math.round(ms);
  if (!Number.isSafeInteger(ms)) return undefined;
  return text.startsWith('-') ? -ms : ms;
}

function unitMs(unit: string): number {
  switch (unit) {
    case 'h':
    case 'm':
    case 's':
    case 'ms':
      return UNIT_MS[unit];
    default:
      return Number.NaN;
  }
}

/** The shortest text `parseDuration` reads back as `ms`: 90000 -> `1m30s`, 1500 -> `1s500ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(Math.round(ms));
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return sign + text;
}
