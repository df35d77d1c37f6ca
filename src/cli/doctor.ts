import type { Argv, CommandModule } from 'yargs';
import { parseHostPort } from '../config/address.js';
import { ConfigError } from '../config/config-error.js';
import { DEFAULT_ADMIN_URL, adminUrl } from './admin-url.js';
import type { CliContext } from './context.js';
import { lastText } from './flag-text.js';

const DEFAULT_PROXY = '127.0.0.1:6444';

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
        .option('admin', { type: 'string', requiresArg: true, describe: 'The proxy\'s admin endpoint (http://HOST:PORT, its --admin-listen), for /backends; "" skips the backends', defaultDescription: DEFAULT_ADMIN_URL })
        .example('$0 doctor --kubeconfig /etc/kubernetes/kubelet.conf', 'will kubelet verify and be accepted through the proxy?')
        .epilog('Exit codes: 0 no problem found (warnings allowed); 1 a problem was found; 2 bad flag or unreadable kubeconfig.'),
    handler: async (argv) => {
      const proxyText = lastText(argv['proxy']) ?? DEFAULT_PROXY;
      const proxy = parseHostPort(proxyText, '--proxy', { host: 'ip-or-name', allowPortZero: false });
      const adminText = lastText(argv['admin']) ?? DEFAULT_ADMIN_URL;
      const admin = adminText === '' ? undefined : adminUrl(adminText);
      const kubeconfig = lastText(argv['kubeconfig']);
      if (kubeconfig === '') throw new ConfigError('--kubeconfig', kubeconfig, 'is not a file path');
      // Loaded only now: TLS and HTTP clients are not needed to print help or refuse a flag.
      const { readClientView } = await import('../kubeconfig/client.js');
      const client = kubeconfig === undefined ? undefined : readClientView(kubeconfig, '--kubeconfig');
      const { examine } = await import('../doctor/doctor.js');
      const { formatFinding, summary } = await import('../doctor/finding.js');
      const findings = await examine({ proxy, client, adminUrl: admin, now: Date.now() });
      for (const finding of findings) context.stdout.write(`${formatFinding(finding)}\n`);
      context.stdout.write(`${summary(findings)}\n`);
      context.finish({ kind: 'done', exitCode: findings.some((f) => f.level === 'problem') ? 1 : 0 });
    },
  };
}
