import { createInterface, type Interface } from 'node:readline';
import { LINE_HELP, parseLine } from './commands.js';
import { BACKEND_COUNT, type Demo } from './demo.js';
import { clock, eventLine, rowLine, trafficLines, type NameOf } from './format.js';
import { introLines } from './intro.js';
import type { LogRecord } from './log-tap.js';
import type { DemoView, OnCommand } from './view.js';

/**
 * The demo for pipes, files and scripts: the introduction once, then one line per event
 * (`12:04:05.123 backend 1 apiserver-1 127.0.0.1:40001: up -> down (connection refused)`), and
 * commands read as lines from stdin (`kill 1`, `status`, `quit`).
 */
export class LineView implements DemoView {
  #demo: Demo | undefined;
  #early: LogRecord[] = [];
  readonly #lines: Interface;
  #closed = false;

  constructor(
    private readonly out: { write(text: string): unknown },
    input: NodeJS.ReadableStream,
    private readonly self: string,
    onCommand: OnCommand,
  ) {
    this.#lines = createInterface({ input, terminal: false });
    this.#lines.on('line', (line) => {
      const command = parseLine(line, BACKEND_COUNT);
      if (command === null) return;
      if (command.kind === 'invalid') this.say(command.message);
      else onCommand(command);
    });
  }

  record(record: LogRecord): void {
    if (!this.#demo) {
      this.#early.push(record);
      return;
    }
    const line = eventLine(record, nameOf(this.#demo));
    if (line !== null) this.#write(line);
  }

  attach(demo: Demo): void {
    this.#demo = demo;
    for (const line of introLines(demo, this.self)) this.#write(line);
    this.#write(LINE_HELP);
    for (const record of this.#early.splice(0)) this.record(record);
  }

  say(text: string): void {
    this.#write(`${clock(Date.now())} ${text}`);
  }

  /** Every backend, one line each, then what the demo's clients saw. */
  status(): void {
    const now = Date.now();
    for (const row of this.#demo?.rows() ?? []) this.say(rowLine(row, now));
    if (this.#demo) for (const line of trafficLines(this.#demo.traffic, now)) this.say(line);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lines.close();
  }

  #write(line: string): void {
    this.out.write(`${line}\n`);
  }
}

/** `backend 1 apiserver-1 127.0.0.1:40001` for an address the pool logs. */
export function nameOf(demo: Demo): NameOf {
  return (address) => {
    const i = demo.apiservers.findIndex((a) => a.address === address);
    const apiserver = demo.apiservers[i];
    return apiserver ? `backend ${i + 1} ${apiserver.name} ${address}` : `backend ${address}`;
  };
}
