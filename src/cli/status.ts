import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../config/config-error.js';
import { REASONS, reasonOfError } from '../health/verdict.js';
import { DEFAULT_ADMIN_URL, adminUrl } from './admin-url.js';
import type { CliContext } from './context.js';
import { CommandFailed } from './errors.js';
import { lastText } from './flag-text.js';

const OUTPUTS = ['table', 'json'] as const;
type Output = (typeof OUTPUTS)[number];

/**
 * `kube-local-lb status`: the running proxy's backends, read from its admin endpoint's
 * `/backends`, as a table (or the JSON itself). Exit 0 while a new session would find a backend,
 * 1 when none would or the admin endpoint cannot be read, 2 for a bad flag.
 */
export function statusCommand(context: CliContext): CommandModule {
  return {
    command: 'status',
    describe: 'Show the backends of a running kube-local-lb: state, since, sessions, last check',
    builder: (yargs: Argv) =>
      yargs
        .option('admin', { type: 'string', requiresArg: true,
          describe: 'The proxy\'s admin endpoint, http://HOST:PORT (where its --admin-listen binds)', defaultDescription: DEFAULT_ADMIN_URL })
        .option('output', { alias: 'o', type: 'string', requiresArg: true,
          describe: 'table, or json: the /backends document as the proxy serves it', defaultDescription: 'table' })
        .example('$0 status', 'the backends of the proxy on this node')
        .example('$0 status --admin http://10.0.0.21:9445', 'another node\'s (its --admin-listen)')
        .example('$0 status -o json', 'the /backends JSON')
        .epilog('Exit codes: 0 a backend is eligible for new sessions (up, unknown, or draining in panic mode); ' +
          '1 none is (every backend down), or the admin endpoint cannot be read; 2 bad flag.'),
    handler: async (argv) => {
      const base = adminUrl(lastText(argv['admin']) ?? DEFAULT_ADMIN_URL);
      const output = outputOf(lastText(argv['output']) ?? 'table');
      const url = `${base.replace(/\/+$/, '')}/backends`;
      // Loaded only now: the HTTP client is not needed to print help or refuse a flag.
      const { getText } = await import('../admin/client.js');
      const { hasEligible, parseBackends } = await import('../admin/document.js');
      const { statusLines } = await import('./status-table.js');
      let body: string;
      try {
        body = await getText(url);
      } catch (err) {
        throw new CommandFailed(unreadable(url, err instanceof Error ? err.message : String(err)));
      }
      const document = parseBackends(body);
      if (!document) throw new CommandFailed(`${url} did not answer a backend list: is ${base} kube-local-lb's admin endpoint (its --admin-listen)?`);
      if (output === 'json') {
        context.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
      } else {
        for (const line of statusLines(document, Date.now())) context.stdout.write(`${line}\n`);
      }
      context.finish({ kind: 'done', exitCode: hasEligible(document) ? 0 : 1 });
    },
  };
}

function outputOf(given: string): Output {
  const output = OUTPUTS.find((candidate) => candidate === given);
  if (output === undefined) throw new ConfigError('--output', given, `is not one of ${OUTPUTS.join(', ')}`);
  return output;
}

/** Why `url` could not be read, in words, and what to check. `problem`: a socket error code, a timeout, `HTTP 404`. */
function unreadable(url: string, problem: string): string {
  if (problem.startsWith('HTTP ')) return `${url} answered ${problem}: is that kube-local-lb's admin endpoint (its --admin-listen)?`;
  const reason = reasonOfError({ code: problem });
  const words = reason === 'error' ? problem : REASONS[reason].text;
  return `cannot reach the admin endpoint ${url}: ${words}; is kube-local-lb running with --admin-listen enabled ` +
    '(default 127.0.0.1:9445, "" disables it) at that address? Point --admin at it';
}
