import { field, type LogRecord } from './log-tap.js';
import type { BackendRow } from './demo.js';

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
