import { type BackendView, type BackendsDocument, hasEligible } from '../admin/document.js';
import { REASONS } from '../health/verdict.js';

/**
 * `kube-local-lb status` as text: one table row per backend, then one line per thing an operator
 * must act on (panic mode, a refused probe credential, no backend at all). Pure functions of the
 * `/backends` document and the clock passed in.
 */

const HEADERS = ['BACKEND', 'STATE', 'SINCE', 'SESSIONS', 'PRIORITY', 'LATENCY', 'LAST CHECK'] as const;
const GAP = '   ';

/** An age as kubectl prints one: `0s`, `42s`, `3m12s`, `2h5m`, `3d4h`. */
export function shortAge(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

/** The lines `status` prints, without their newlines. */
export function statusLines(document: BackendsDocument, now: number): string[] {
  const rows = document.backends.map((b) => row(b, now));
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...rows.map((cells) => cells[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join(GAP).trimEnd();
  return [line(HEADERS), ...rows.map(line), ...notes(document)];
}

function row(b: BackendView, now: number): string[] {
  const since = Date.parse(b.since);
  const check = b.lastCheck;
  return [
    b.address,
    b.suspect ? `${b.state} (suspect)` : b.state,
    Number.isNaN(since) ? '-' : shortAge(now - since),
    String(b.sessions),
    String(b.priority),
    check ? milliseconds(check.durationMs) : '-',
    check ? `${check.verdict}${check.status ? ` ${check.status}` : ''}: ${reasonText(check.reason)}` : 'none yet',
  ];
}

/** `0.8ms`, `12ms`: a tenth of a millisecond matters on loopback, not past ten. */
function milliseconds(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** The pool's words for a reason; the key itself when this binary does not know it (another version). */
function reasonText(reason: string): string {
  return Object.hasOwn(REASONS, reason) ? REASONS[reason as keyof typeof REASONS].text : reason;
}

function notes(document: BackendsDocument): string[] {
  const { backends } = document;
  const lines: string[] = [];
  if (backends.length === 0) {
    lines.push('no backend is configured: every client connection is closed at once');
  } else if (!hasEligible(document)) {
    lines.push('no backend is eligible: every backend is down, every new client connection is closed at once');
  } else if (document.panic) {
    lines.push('PANIC: no backend is up; new sessions go to draining backends (they answer, but are not ready)');
  }
  const refused = backends.filter((b) => !b.checkAuthorized);
  if (refused.length > 0) {
    const credential = document.healthCredential ? ` (${document.healthCredential})` : '';
    lines.push(`probe credential${credential} rejected (401/403) by ${refused.map((b) => b.address).join(', ')}: ` +
      'they stay in service, unchecked; see the log event backend_check_unauthorized');
  }
  return lines;
}
