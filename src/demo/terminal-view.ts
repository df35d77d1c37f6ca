import type { ReadStream, WriteStream } from 'node:tty';
import { parseKey } from './commands.js';
import { BACKEND_COUNT, type Demo } from './demo.js';
import { clock, eventLine } from './format.js';
import { introLines } from './intro.js';
import { nameOf } from './line-view.js';
import type { LogRecord } from './log-tap.js';
import { renderFrame } from './screen.js';
import type { DemoView, OnCommand } from './view.js';

// Four frames a second: a state change shows at once to the eye, the terminal is not flooded.
const REDRAW_MS = 250;
const EVENTS_SHOWN = 8;

// ANSI/VT100: alternate screen, cursor, home, erase to end of line and of screen.
const ENTER = '\u001b[?1049h\u001b[?25l';
const LEAVE = '\u001b[?25h\u001b[?1049l';
const HOME = '\u001b[H';
const ERASE_LINE = '\u001b[K';
const ERASE_BELOW = '\u001b[J';

/**
 * The demo on a terminal: a table of the backends redrawn in place (state, since, sessions,
 * last check), the latest events under it, and single keys: 1/2/3 select, k/b/d/r act, q quits.
 * It uses the alternate screen, so the shell's scrollback is as it was afterwards.
 */
export class TerminalView implements DemoView {
  #demo: Demo | undefined;
  #early: LogRecord[] = [];
  #events: string[] = [];
  #selected = 1;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onData: (key: string) => void;
  readonly #onResize = (): void => this.#draw();

  constructor(
    private readonly out: WriteStream,
    private readonly input: ReadStream,
    private readonly self: string,
    onCommand: OnCommand,
  ) {
    this.#onData = (data: string) => {
      for (const key of data) {
        const command = parseKey(key, this.#selected, BACKEND_COUNT);
        if (command === null) continue;
        if (command.kind === 'select') {
          this.#selected = command.backend;
          this.#draw();
        } else {
          onCommand(command);
        }
      }
    };
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', this.#onData);
    input.resume();
    out.on('resize', this.#onResize);
    out.write(ENTER);
  }

  record(record: LogRecord): void {
    if (!this.#demo) {
      this.#early.push(record);
      return;
    }
    const line = eventLine(record, nameOf(this.#demo));
    if (line !== null) this.#event(line);
  }

  attach(demo: Demo): void {
    this.#demo = demo;
    for (const record of this.#early.splice(0)) this.record(record);
    this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
    this.#draw();
  }

  say(text: string): void {
    this.#event(`${clock(Date.now())} ${text}`);
  }

  status(): void {
    this.#draw();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.input.off('data', this.#onData);
    this.input.setRawMode(false);
    this.input.pause();
    this.out.off('resize', this.#onResize);
    this.out.write(LEAVE);
  }

  #event(line: string): void {
    this.#events.push(line);
    if (this.#events.length > EVENTS_SHOWN) this.#events.splice(0, this.#events.length - EVENTS_SHOWN);
    this.#draw();
  }

  #draw(): void {
    const demo = this.#demo;
    if (!demo || this.#closed) return;
    const lines = renderFrame({
      intro: introLines(demo, this.self),
      rows: demo.rows(),
      selected: this.#selected,
      traffic: demo.traffic,
      events: this.#events,
      now: Date.now(),
      width: this.out.columns || 120,
      colour: this.out.hasColors(),
    });
    this.out.write(HOME + lines.map((line) => line + ERASE_LINE).join('\n') + ERASE_BELOW);
  }
}
