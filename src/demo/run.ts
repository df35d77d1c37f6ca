import { ReadStream, WriteStream } from 'node:tty';
import { KEY_HELP, LINE_HELP, type DemoCommand } from './commands.js';
import { Demo } from './demo.js';
import { LineView } from './line-view.js';
import { TerminalView } from './terminal-view.js';
import type { DemoView } from './view.js';
import { assertNever } from '../never.js';

export interface RunDemoOptions {
  /** `--listen` as typed. */
  listen: string;
  /** `--admin-listen` as typed; '' disables the admin server. */
  adminListen: string;
  clients: number;
  /** How to run this binary again, for the printed doctor command. */
  self: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Aborted on SIGINT or SIGTERM: stop as `q` would. */
  stop: AbortSignal;
}

/**
 * Runs the demo until the user quits (`q`, `quit`, Ctrl-C) or `stop` is aborted, then stops
 * everything it started and deletes its temp directory. A terminal on both stdin and stdout gets
 * the live table; anything else gets lines. Rejects only when the demo cannot start (a bad flag:
 * ConfigError; a port in use: the bind error), after cleaning up.
 */
export async function runDemo(options: RunDemoOptions): Promise<void> {
  let demo: Demo | undefined;
  let quit: () => void = () => undefined;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const onCommand = (command: DemoCommand): void => {
    if (command.kind === 'quit') return quit();
    if (!demo) return view.say('still starting; try again in a moment');
    handle(demo, view, command);
  };
  const { stdin, stdout } = options;
  const view: DemoView =
    stdin instanceof ReadStream && stdout instanceof WriteStream && stdin.isTTY && stdout.isTTY
      ? new TerminalView(stdout, stdin, options.self, onCommand)
      : new LineView(stdout, stdin, options.self, onCommand);
  try {
    demo = await Demo.start({ listen: options.listen, adminListen: options.adminListen, clients: options.clients,
      onRecord: (record) => view.record(record) });
  } catch (err) {
    view.close();
    throw err;
  }
  view.attach(demo);
  const onAbort = (): void => quit();
  if (options.stop.aborted) quit();
  options.stop.addEventListener('abort', onAbort, { once: true });
  await quitting;
  options.stop.removeEventListener('abort', onAbort);
  view.close();
  await demo.close();
  stdout.write(`demo stopped: proxy, apiserver imitations and clients closed; ${demo.workspace.dir} removed\n`);
}

function handle(demo: Demo, view: DemoView, command: Exclude<DemoCommand, { kind: 'quit' }>): void {
  switch (command.kind) {
    case 'act':
      demo.act(command.action, command.backend).then(
        (done) => view.say(done),
        (err: unknown) => view.say(`${command.action} ${command.backend} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      return;
    case 'status':
      view.status();
      return;
    case 'help':
      view.say(view instanceof TerminalView ? KEY_HELP : LINE_HELP);
      return;
    case 'invalid':
      view.say(command.message);
      return;
    case 'select':
      // Only keys select, and the terminal view keeps the selection itself.
      return;
    default:
      assertNever(command);
  }
}
