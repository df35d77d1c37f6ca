import type { Argv, CommandModule } from 'yargs';
import { isHostName } from '../config/address.js';
import { ConfigError } from '../config/config-error.js';
import type { Change } from '../kubeconfig/rewrite.js';
import type { CliContext } from './context.js';
import { lastText, switchValue, textList } from './flag-text.js';

const DEFAULT_SERVER = 'https://127.0.0.1:6444';
// Every kubeadm serving certificate holds `kubernetes`; none holds 127.0.0.1 (wire reference §7).
const DEFAULT_TLS_SERVER_NAME = 'kubernetes';

/**
 * `kube-local-lb kubeconfig`: points a kubeconfig (kubelet.conf, kube-proxy's, admin.conf) at the
 * proxy. Only `server` and `tls-server-name` change; comments, order and credentials stay as
 * they were, byte for byte.
 */
export function kubeconfigCommand(context: CliContext): CommandModule {
  return {
    command: 'kubeconfig',
    describe: 'Point a kubeconfig at the proxy: rewrite server, set tls-server-name',
    builder: (yargs: Argv) =>
      yargs
        .option('in', { type: 'string', requiresArg: true, describe: 'The kubeconfig to read (required)' })
        .option('out', { type: 'string', requiresArg: true, describe: 'Where to write the result (may be --in itself: replaced atomically, mode kept); without it the result goes to stdout' })
        .option('server', { type: 'string', requiresArg: true, describe: 'The proxy URL every cluster\'s server becomes', defaultDescription: DEFAULT_SERVER })
        .option('tls-server-name', { type: 'string', requiresArg: true, describe: 'The name clients verify the apiserver certificate against (kubeadm certificates hold "kubernetes", never 127.0.0.1)', defaultDescription: DEFAULT_TLS_SERVER_NAME })
        .option('cluster', { type: 'string', requiresArg: true, describe: 'Rewrite only this cluster (by name); repeat for several. Default: every cluster' })
        .option('check', { type: 'string', describe: 'Print what would change, write nothing; --check alone means true' })
        .example('$0 kubeconfig --in /etc/kubernetes/kubelet.conf --check', 'what would change')
        .example('$0 kubeconfig --in /etc/kubernetes/kubelet.conf --out /etc/kubernetes/kubelet.conf', 'rewrite in place')
        .epilog('Exit codes: 0 done (or nothing to change); 2 bad flag, or a file that cannot be read, parsed or written (nothing is written then).'),
    handler: async (argv) => {
      const input = lastText(argv['in']);
      if (input === undefined || input === '') throw new ConfigError('--in', input, 'missing: the kubeconfig to rewrite, e.g. --in /etc/kubernetes/kubelet.conf');
      const output = lastText(argv['out']);
      if (output === '') throw new ConfigError('--out', output, 'is not a file path');
      const server = serverUrl(lastText(argv['server']) ?? DEFAULT_SERVER);
      const tlsServerName = lastText(argv['tls-server-name']) ?? DEFAULT_TLS_SERVER_NAME;
      if (!isHostName(tlsServerName)) throw new ConfigError('--tls-server-name', tlsServerName, 'is not a DNS name or IP address (e.g. kubernetes)');
      const check = switchValue(argv['check'], '--check');
      const clusters = textList(argv['cluster']);

      // Loaded only now: reading and rewriting kubeconfigs is this command's alone.
      const [{ readKubeconfig }, { rewriteKubeconfig }, { writeAtomically }] = await Promise.all([
        import('../kubeconfig/document.js'), import('../kubeconfig/rewrite.js'), import('../kubeconfig/write.js')]);
      const source = readKubeconfig(input, '--in');
      const { text: rewritten, changes } = rewriteKubeconfig(source, { server, tlsServerName, clusters });
      if (check || output !== undefined) {
        for (const line of describe(input, changes, server, tlsServerName)) context.stdout.write(`${line}\n`);
      }
      if (check) {
        context.stdout.write('--check: nothing written\n');
      } else if (output !== undefined) {
        if (changes.length > 0 || output !== input) {
          writeAtomically(output, rewritten, '--out');
          context.stdout.write(`wrote ${output}\n`);
        } else {
          // Rewriting identical bytes would only wake every watcher of the file (kubelet's, ours).
          context.stdout.write(`${output} left as it was\n`);
        }
      } else {
        context.stdout.write(rewritten);
      }
      context.finish({ kind: 'done' });
    },
  };
}

function describe(file: string, changes: readonly Change[], server: string, tlsServerName: string): string[] {
  if (changes.length === 0) return [`${file}: nothing to change: its clusters use ${server} with tls-server-name ${tlsServerName}`];
  return changes.map((c) => `${file}: cluster ${JSON.stringify(c.cluster)}: ${c.key}: ${c.from ?? '(not set)'} -> ${c.to}`);
}

/** The proxy URL: https, a host, nothing after the port but an optional path. */
function serverUrl(given: string): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError('--server', given, 'is not an https:// URL (e.g. https://127.0.0.1:6444)');
  }
  if (url.protocol !== 'https:' || url.hostname === '' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new ConfigError('--server', given, 'is not an https:// URL (e.g. https://127.0.0.1:6444)');
  }
  return given;
}

