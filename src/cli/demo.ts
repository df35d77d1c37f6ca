import { basename, relative } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../config/config-error.js';
import type { CliContext } from './context.js';
import { StartupError } from '../service/startup-error.js';
import { lastText } from './flag-text.js';

const DEFAULT_LISTEN = '127.0.0.1:6443';
const DEFAULT_ADMIN = '127.0.0.1:9445';
const DEFAULT_CLIENTS = 6;
const MAX_CLIENTS = 100;

/**
 * `kube-local-lb demo`: three local kube-apiserver imitations, the proxy in front of them, and
 * their states live, so that a newcomer sees it work with no cluster. Runs until `q`, Ctrl-C or
 * SIGTERM, then removes everything it made and exits 0.
 */
export function demoCommand(context: CliContext): CommandModule {
  return {
    command: 'demo',
    describe: 'Run three local apiserver imitations behind the proxy and show their states live',
    builder: (yargs: Argv) =>
      yargs
        .option('listen', {
          type: 'string',
          requiresArg: true,
          describe: 'Address of the demo proxy, IPv4:PORT or [IPv6]:PORT; port 0 picks a free port',
          defaultDescription: DEFAULT_LISTEN,
        })
        .option('admin-listen', {
          type: 'string',
          requiresArg: true,
          describe: 'Address of the admin server (/backends, /metrics), for doctor and curl; "" disables it',
          defaultDescription: DEFAULT_ADMIN,
        })
        .option('clients', {
          type: 'string',
          requiresArg: true,
          describe: `Kubelet-like clients that each keep a session open and list pods every second (0-${MAX_CLIENTS})`,
          defaultDescription: String(DEFAULT_CLIENTS),
        })
        .example('$0 demo', 'on a terminal: a live table; keys 1/2/3 select a backend, k kill, b blackhole, d drain, r revive, q quit')
        .example('$0 demo --listen 127.0.0.1:0 < commands.txt', 'not a terminal: one line per event; commands as lines (kill 1, revive 1, quit)')
        .epilog('Everything runs on this machine; the kubeconfig, CA and client key live in a temp directory deleted on exit.'),
    handler: async (argv) => {
      const listen = lastText(argv['listen']) ?? DEFAULT_LISTEN;
      const adminListen = lastText(argv['admin-listen']) ?? DEFAULT_ADMIN;
      const clients = clientCount(lastText(argv['clients']));
      // Loaded only now: certificates, servers and the proxy are not needed to print help.
      const { runDemo } = await import('../demo/run.js');
      const stop = new AbortController();
      // The demo owns the terminal while it runs: SIGINT (Ctrl-C outside raw mode) and SIGTERM
      // end it like `q` does, cleaning up before the process exits 0.
      const onSignal = (): void => stop.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runDemo({ listen, adminListen, clients, self: selfCommand(), stdin: process.stdin, stdout: process.stdout, stop: stop.signal });
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new StartupError('cannot start the demo', err);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        // stdin was read for commands; left flowing it would keep the process alive.
        process.stdin.pause();
      }
      context.finish({ kind: 'done' });
    },
  };
}

function clientCount(given: string | undefined): number {
  if (given === undefined) return DEFAULT_CLIENTS;
  const count = /^\d+$/.test(given) ? Number(given) : Number.NaN;
  if (!(count >= 0 && count <= MAX_CLIENTS)) throw new ConfigError('--clients', given, `is not a number of clients (0-${MAX_CLIENTS})`);
  return count;
}

/** How the user ran this binary, to print commands they can paste: `node dist/main.js` or `kube-local-lb`. */
function selfCommand(): string {
  const script = process.argv[1];
  if (script === undefined || basename(script) !== 'main.js') return 'kube-local-lb';
  const path = relative(process.cwd(), script);
  return `node ${path.startsWith('..') ? script : path}`;
}
