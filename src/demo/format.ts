import { field, type LogRecord } from './log-tap.js';
import type { BackendRow } from './demo.js';
import type { ClientStats, TrafficStats } from './traffic.js';

/**
 * The demo's words for what the proxy logged and what the pool knows: one line per event, one
 * line (or table row) per backend. Pure functions of their inputs and the clock passed in.
 */

/** How a backend address is named in the demo: `backend 1 apiserver-1 127.0.0.1:40001`. */
export type NameOf = (address: string) => string;

/** `12:04:05.123`, local time: what a person compares with the clock on the wall. */
export function clock(at: number): string {
  const d = new Date(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** A duration for people: `0.4s`, `12s`, `3m05s`, `2h10m`. */
export function age(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The line for one proxy log record, or null for records the demo does not show (per-session
 * debug, start-up chatter it prints itself).
 */
export function eventLine(record: LogRecord, nameOf: NameOf): string | null {
  const timeText = field(record, 'time');
  const at = timeText === '' ? Date.now() : Date.parse(timeText);
  const backend = field(record, 'backend');
  const who = backend === '' ? '' : nameOf(backend);
  const reason = field(record, 'reason');
  let text: string | null;
  switch (field(record, 'event')) {
    case 'backend_state':
      text = `${who}: ${field(record, 'from')} -> ${field(record, 'to')} (${reasonText(record)})`;
      break;
    case 'backend_ejected':
      text = `${who}: ${field(record, 'sessions')} sessions ejected (reset at once, their clients redial another backend)`;
      break;
    case 'session_replayed':
      text = `a new session ${who === '' ? '' : `to ${who} `}failed before any answer (${reason}); replayed on another backend`;
      break;
    case 'backend_check_unauthorized':
    case 'backend_check_authorized':
    case 'panic_entered':
    case 'panic_left':
    case 'health_credentials_error':
    case 'listener_error':
      text = field(record, 'msg');
      break;
    default:
      text = null;
  }
  return text === null ? null : `${clock(at)} ${text}`;
}

/** The pool's words for the reason, from the log message: `backend X down: connection refused`. */
function reasonText(record: LogRecord): string {
  const msg = field(record, 'msg');
  const colon = msg.indexOf(': ');
  return colon >= 0 ? msg.slice(colon + 2) : field(record, 'reason');
}

/** The last check in a few words: `pass 200 1.3ms`, `unreachable: refused`. */
export function lastCheckText(row: BackendRow, now: number): string {
  const check = row.view?.lastCheck;
  if (!check) return 'none yet';
  const when = age(now - Date.parse(check.at));
  if (check.verdict === 'pass') return `pass ${check.status ?? ''} ${check.durationMs}ms, ${when} ago`;
  return `${check.verdict}: ${check.reason}${check.status ? ` ${check.status}` : ''}, ${when} ago`;
}

/** The state with its reason when it has one: `down (connection refused)`. */
export function stateText(row: BackendRow): string {
  const view = row.view;
  if (!view) return 'unknown';
  return view.reasonText ? `${view.state} (${view.reasonText})` : view.state;
}

/** One backend on one line, for `status` in line mode. */
export function rowLine(row: BackendRow, now: number): string {
  const view = row.view;
  const since = view ? `since ${age(now - Date.parse(view.since))}` : '';
  return `backend ${row.index} ${row.name} ${row.address}: ${stateText(row)} ${since}, imitation ${row.fault}, ` +
    `${view?.sessions ?? 0} sessions, last check ${lastCheckText(row, now)}, ${row.answered} answers to the demo's clients`;
}

/** `1 request`, `3 requests`. */
function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function answers(stats: ClientStats): number {
  return [...stats.answeredBy.values()].reduce((sum, n) => sum + n, 0);
}

function lastFailure(stats: ClientStats, now: number): string {
  return stats.lastFailure ? ` (last: ${stats.lastFailure.message}, ${age(now - stats.lastFailure.at)} ago)` : '';
}

// Replay reasons that mean the apiserver connected (or not) and then said nothing.
const SILENT = new Set(['first_byte_timeout', 'connect_timeout', 'timeout']);

/** Requests cut by a reset session, and that their clients redialled at once. */
function cutText(s: ClientStats): string {
  let cut = `${count(s.cut, 'request', 'requests')} cut when ${s.cut === 1 ? 'its' : 'their'} apiserver was ejected or killed`;
  if (s.cut > 0) {
    const pending = s.redialling > 0 ? `; ${s.redialling} redialling` : '';
    cut += s.redialledElsewhere >= s.cut
      ? ` (${s.cut === 1 ? 'the client' : 'each client'} redialled at once and was answered by another)`
      : ` (${s.redialledElsewhere} redialled at once and ${s.redialledElsewhere === 1 ? 'was' : 'were'} answered by another${pending})`;
  }
  return cut;
}

/**
 * What the demo's clients saw, in two lines: the kubelet-like clients (requests cut by a reset
 * session are not failures: each client redials at once), and the kubectl-like client with the
 * replays the proxy logged.
 */
export function trafficLines(t: TrafficStats, now: number): string[] {
  const k = t.keptAlive;
  const first = `demo clients: ${count(answers(k), 'answer', 'answers')}; ${cutText(k)}; ` +
    `${count(k.failed, 'other failure', 'other failures')}${lastFailure(k, now)}`;

  const n = t.newConnections;
  let silent = 0;
  let refused = 0;
  let other = 0;
  for (const [reason, times] of t.replays) {
    if (SILENT.has(reason)) silent += times;
    else if (reason === 'refused') refused += times;
    else other += times;
  }
  const parts: string[] = [];
  if (silent > 0 || (refused === 0 && other === 0)) parts.push(`${count(silent, 'new session', 'new sessions')} replayed past a silent apiserver`);
  if (refused > 0) parts.push(`${refused} past a refusing one`);
  if (other > 0) parts.push(`${other} past one that reset or closed`);
  const failures = k.failed + n.failed;
  const replays = `${parts.join(', ')}, ${failures === 0 ? 'none failed' : `${count(failures, 'request', 'requests')} of the demo clients failed`}`;
  const newCut = n.cut > 0 ? `, ${cutText(n)}` : '';
  const second = `new connection per request (like kubectl): ${count(answers(n), 'answer', 'answers')}${newCut}, ` +
    `${count(n.failed, 'failure', 'failures')}${lastFailure(n, now)}; ${replays}`;
  return [first, second];
}
