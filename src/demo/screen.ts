import { KEY_HELP } from './commands.js';
import type { BackendRow } from './demo.js';
import { age, lastCheckText, trafficLines } from './format.js';
import type { TrafficStats } from './traffic.js';

/** Everything one frame of the terminal view shows. */
export interface Frame {
  intro: readonly string[];
  rows: readonly BackendRow[];
  /** 1-based: the backend the next k/b/d/r acts on. */
  selected: number;
  traffic: TrafficStats;
  /** The most recent event lines, oldest first. */
  events: readonly string[];
  now: number;
  width: number;
  /** Whether to colour states (a terminal that asked for no colour gets none). */
  colour: boolean;
}

const COLOURS: Readonly<Record<string, string>> = { up: '32', draining: '33', down: '31', unknown: '2' };
const FAULT_COLOURS: Readonly<Record<string, string>> = { serving: '32', draining: '33', killed: '31', blackholed: '35' };

/** The lines of one frame, each cut to the terminal's width. Pure: the view writes them. */
export function renderFrame(frame: Frame): string[] {
  const paint = (code: string | undefined, text: string): string => (frame.colour && code ? `\u001b[${code}m${text}\u001b[0m` : text);
  const columns = ['', '#', 'apiserver', 'address', 'imitation', 'state', 'since', 'sessions', 'last check', 'answers'];
  const cells = frame.rows.map((row) => {
    const view = row.view;
    const state = view?.state ?? 'unknown';
    return [
      row.index === frame.selected ? '>' : ' ',
      String(row.index),
      row.name,
      row.address,
      row.fault,
      view?.reasonText ? `${state}: ${view.reasonText}` : state,
      view ? age(frame.now - Date.parse(view.since)) : '',
      String(view?.sessions ?? 0),
      lastCheckText(row, frame.now),
      String(row.answered),
    ];
  });
  const widths = columns.map((title, i) => Math.max(title.length, ...cells.map((c) => (c[i] ?? '').length)));
  const pad = (text: string, i: number): string => text.padEnd(widths[i] ?? 0);
  const lines: string[] = [...frame.intro, ''];
  lines.push(paint('1', columns.map(pad).join('  ')));
  cells.forEach((c, r) => {
    const row = frame.rows[r];
    const coloured = c.map((text, i) => {
      const padded = pad(text, i);
      if (i === 4) return paint(FAULT_COLOURS[row?.fault ?? ''], padded);
      if (i === 5) return paint(COLOURS[row?.view?.state ?? 'unknown'], padded);
      if (i === 0 && text === '>') return paint('1', padded);
      return padded;
    });
    lines.push(coloured.join('  '));
  });
  lines.push('', ...trafficLines(frame.traffic, frame.now), '', 'events:');
  lines.push(...(frame.events.length > 0 ? frame.events.map((e) => `  ${e}`) : ['  (none yet)']));
  lines.push('', paint('1', KEY_HELP));
  return lines.map((line) => cut(line, frame.width));
}

/** Cuts a line to `width` visible characters; colour codes do not count. */
function cut(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const escape = /^\u001b\[[0-9;]*m/.exec(line.slice(i));
    if (escape) {
      out += escape[0];
      i += escape[0].length - 1;
      continue;
    }
    if (visible >= width) continue;
    out += line[i] ?? '';
    visible += 1;
  }
  return out;
}
