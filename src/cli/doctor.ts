import type { Argv, CommandModule } from 'yargs';
import { parseHostPort } from '../config/address.js';
import { ConfigError } from '../config/config-error.js';
import type { CliContext } from './context.js';
import { lastText } from './flag-text.js';

const DEFAULT_PROXY = '127.0.0.1:6443';
const DEFAULT_ADMIN = 'http://127.0.0.1:9445';

/**
 * `kube-local-lb doctor`: connects through the proxy and says, one line per finding with its
 * fix, whether a kubeconfig's client will verify the certificate it meets and be accepted, which
 * backends are in which state, and whether the health checks' credential is accepted.
 * Exit 0: no problem; 1: a problem was found; 2: bad flags or an unreadable kubeconfig.
 */
export function doctorCommand(context: CliContext): CommandModule {
  return {
    command: 'doctor',
    describe: 'Check, through the proxy, what a kubeconfig meets and what the backends are doing',
    builder: (yargs: Argv) =>
      yargs
        .option('kubeconfig', { type: 'string', requiresArg: true,
          describe: 'A client\'s kubeconfig (its current context) to judge: CA chain, the name it verifies (tls-server-name), expiry, credential' })
        .option('proxy', { type: 'string', requiresArg: true, describe: 'The proxy\'s listen address, HOST:PORT', defaultDescription: DEFAULT_PROXY })
        .option('admin', { type: 'string', requiresArg: true, describe: 'The proxy\'s admin endpoint (http://HOST:PORT, its --admin-listen), for /backends; "" skips the backends', defaultDescription: DEFAULT_ADMIN })
        .example('$0 doctor --kubeconfig /etc/kubernetes/kubelet.conf', 'will kubelet verify and be accepted through the proxy?')
        .epilog('Exit codes: 0 no problem found (warnings allowed); 1 a problem was found; 2 bad flag or unreadable kubeconfig.'),
    handler: async (argv) => {
      const proxyText = lastText(argv['proxy']) ?? DEFAULT_PROXY;
      const proxy = parseHostPort(proxyText, '--proxy', { host: 'ip-or-name', allowPortZero: false });
      const adminText = lastText(argv['admin']) ?? DEFAULT_ADMIN;
      const adminUrl = adminText === '' ? undefined : adminBase(adminText);
      const kubeconfig = lastText(argv['kubeconfig']);
      if (kubeconfig === '') throw new ConfigError('--kubeconfig', kubeconfig, 'is not a file path');
      // Loaded only now: TLS and HTTP clients are not needed to print help or refuse a flag.
      const { readClientView } = await import('../kubeconfig/client.js');
      const client = kubeconfig === undefined ? undefined : readClientView(kubeconfig, '--kubeconfig');
      const { examine } = await import('../doctor/doctor.js');
      const { formatFinding, summary } = await import('../doctor/finding.js');
      const findings = await examine({ proxy, client, adminUrl, now: Date.now() });
      for (const finding of findings) context.stdout.write(`${formatFinding(finding)}\n`);
      context.stdout.write(`${summary(findings)}\n`);
      // CliContext's outcome carries no exit code yet; a found problem is exit 1, as documented.
      if (findings.some((f) => f.level === 'problem')) process.exitCode = 1;
      context.finish({ kind: 'done' });
    },
  };
}

/** The admin endpoint's base URL: http(s), a host, no query. */
function adminBase(given: string): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError('--admin', given, 'is not a URL (e.g. http://127.0.0.1:9445)');
  }
  if (url.protocol !== 'http:' || url.hostname === '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError('--admin', given, 'is not an http:// URL (e.g. http://127.0.0.1:9445)');
  }
  return given;
}
