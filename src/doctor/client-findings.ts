import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { addressKey, formatHostPort } from '../config/address.js';
import type { HostPort } from '../config/schema.js';
import type { ClientView } from '../kubeconfig/client.js';
import type { Finding } from './finding.js';
import { probeProxy, requestThroughProxy, type ProbeResult, type Served } from './proxy-probe.js';

// kubeadm renews certificates a year at a time; a month's notice leaves room for a maintenance window.
const EXPIRY_WARNING_MS = 30 * 24 * 3600_000;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Through the proxy: the served certificate, and whether the client of kubeconfig `view` would
 * accept it (CA chain, the name it verifies, expiry) and be accepted (its credential). Without a
 * kubeconfig only the certificate itself is reported.
 */
export async function clientFindings(proxy: HostPort, view: ClientView | undefined, now: number): Promise<Finding[]> {
  const serverName = view ? nameVerified(view) : undefined;
  const probe = await probeProxy(proxy, view?.caPem, serverName);
  if (probe.kind === 'failed') return [unreachable(proxy, probe)];
  const cert = probe.certificate;
  const names = cert.subjectAltName ?? '(none)';
  const findings: Finding[] = [{
    level: 'ok',
    text: `${formatHostPort(proxy)} serves ${oneLine(cert.subject)}, issued by ${oneLine(cert.issuer)}, valid until ${cert.validTo}; names: ${names}`,
  }];
  findings.push(...expiry('the serving certificate', cert, now,
    'renew the apiserver certificates on every control-plane node (kubeadm certs renew apiserver) and restart the apiservers'));
  if (!view) return findings;
  findings.push(...proxyUse(proxy, view));
  if (view.insecureSkipVerify) {
    findings.push({ level: 'warn', text: `${view.file}: insecure-skip-tls-verify: true: the client verifies nothing it is sent`,
      fix: 'remove it and set certificate-authority-data to the cluster CA (/etc/kubernetes/pki/ca.crt)' });
  }
  const chainOk = chain(view, probe, findings);
  const nameOk = name(view, cert, findings);
  if (view.credential.kind === 'client-cert') {
    findings.push(...expiry(`${view.file}: the client certificate`, new X509Certificate(view.credential.certPem), now,
      'renew it (kubelet rotates its own when --rotate-certificates is on; kubeadm kubeconfig user for others)'));
  }
  if (chainOk && nameOk) findings.push(await credential(proxy, view));
  return findings;
}

/** The name client-go verifies: tls-server-name, else the URL's host. */
function nameVerified(view: ClientView): string {
  return view.tlsServerName ?? serverHost(view.server)?.host ?? '';
}

function serverHost(server: string): HostPort | undefined {
  try {
    const url = new URL(server);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 443 : Number(url.port) };
  } catch {
    return undefined;
  }
}

function unreachable(proxy: HostPort, probe: Extract<ProbeResult, { kind: 'failed' }>): Finding {
  const where = formatHostPort(proxy);
  switch (probe.code) {
    case 'ECONNREFUSED':
      return { level: 'problem', text: `nothing listens on ${where} (connection refused)`,
        fix: 'start kube-local-lb (systemctl status kube-local-lb, or crictl ps --name kube-local-lb), or pass --proxy with its --listen address' };
    case 'closed':
    case 'ECONNRESET':
      return { level: 'problem', text: `${where} closed the connection before the TLS handshake completed: no backend is eligible, or none speaks TLS`,
        fix: 'see the backend findings below (or kube-local-lb status)' };
    case 'timeout':
      return { level: 'problem', text: `no TLS answer through ${where}: ${probe.message}`,
        fix: 'a backend accepts connections but answers nothing (a frozen or blackholed apiserver): see the backend findings below' };
    default:
      return { level: 'problem', text: `cannot reach ${where}: ${probe.message}`, fix: 'check --proxy against the proxy\'s --listen address' };
  }
}

function proxyUse(proxy: HostPort, view: ClientView): Finding[] {
  const target = serverHost(view.server);
  if (target && addressKey(target) === addressKey(proxy)) {
    return [{ level: 'ok', text: `${view.file}: cluster ${JSON.stringify(view.cluster)} uses the proxy (server ${view.server})` }];
  }
  return [{ level: 'warn', text: `${view.file}: cluster ${JSON.stringify(view.cluster)} does not use the proxy: server is ${view.server}`,
    fix: `kube-local-lb kubeconfig --in ${view.file} --out ${view.file} --server https://${formatHostPort(proxy)}` }];
}

function chain(view: ClientView, probe: Served, findings: Finding[]): boolean {
  const trust = view.caPem !== undefined ? 'the kubeconfig\'s CA' : 'the system roots (the kubeconfig names no certificate-authority)';
  if (probe.chainError === undefined) {
    findings.push({ level: 'ok', text: `${view.file}: the served certificate chains to ${trust}` });
    return true;
  }
  findings.push({ level: 'problem', text: `${view.file}: the served certificate does not verify against ${trust} (${probe.chainError})`,
    fix: 'set certificate-authority-data (or certificate-authority) to the CA that signed the apiserver certificate: /etc/kubernetes/pki/ca.crt on a control-plane node' });
  return false;
}

function name(view: ClientView, cert: X509Certificate, findings: Finding[]): boolean {
  const verified = nameVerified(view);
  const from = view.tlsServerName !== undefined ? 'tls-server-name' : `the host of server ${view.server}`;
  // As Go's crypto/x509 since 1.15: subjectAltName only, the subject's CN is never a name.
  const holds = isIP(verified) !== 0 ? cert.checkIP(verified) !== undefined : cert.checkHost(verified, { subject: 'never' }) !== undefined;
  if (holds) {
    findings.push({ level: 'ok', text: `${view.file}: the certificate holds ${JSON.stringify(verified)}, the name the client verifies (${from})` });
    return true;
  }
  const names = cert.subjectAltName ?? '(none)';
  const suggestion = suggestedName(cert);
  const rewrite = `kube-local-lb kubeconfig --in ${view.file} --out ${view.file} --tls-server-name ${suggestion}`;
  if (view.tlsServerName !== undefined) {
    findings.push({ level: 'problem', text: `${view.file}: tls-server-name ${JSON.stringify(verified)} is not a name of the certificate (${names})`,
      fix: `set tls-server-name to one of its names (${rewrite})` });
  } else if (LOOPBACK.has(verified)) {
    findings.push({ level: 'problem',
      text: `${view.file}: the client verifies ${JSON.stringify(verified)} (${from}), which the certificate does not hold (${names}); ` +
        'kubeadm serving certificates never hold 127.0.0.1 or localhost',
      fix: `set tls-server-name: ${suggestion} (${rewrite}), or add ${verified} to apiServer.certSANs and renew the apiserver certificates` });
  } else {
    findings.push({ level: 'problem', text: `${view.file}: the client verifies ${JSON.stringify(verified)} (${from}), which the certificate does not hold (${names})`,
      fix: `set tls-server-name: ${suggestion} (${rewrite})` });
  }
  return false;
}

/** The name to advise: `kubernetes` when the certificate holds it (every kubeadm one does), else its first DNS name. */
function suggestedName(cert: X509Certificate): string {
  const dns = (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  return dns.includes('kubernetes') ? 'kubernetes' : (dns[0] ?? 'kubernetes');
}

function expiry(what: string, cert: X509Certificate, now: number, fix: string): Finding[] {
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  if (now > notAfter) return [{ level: 'problem', text: `${what} expired on ${cert.validTo}`, fix }];
  if (now < notBefore) {
    return [{ level: 'problem', text: `${what} is not valid before ${cert.validFrom}`, fix: 'set this node\'s clock right (timedatectl; chrony or systemd-timesyncd)' }];
  }
  if (notAfter - now < EXPIRY_WARNING_MS) return [{ level: 'warn', text: `${what} expires on ${cert.validTo}`, fix }];
  return [];
}

async function credential(proxy: HostPort, view: ClientView): Promise<Finding> {
  const who = identity(view);
  const result = await requestThroughProxy(proxy, '/readyz', view.caPem, nameVerified(view), view.credential);
  const where = `${view.file}: GET /readyz through ${formatHostPort(proxy)} as ${who}`;
  if (result.kind === 'failed') return { level: 'problem', text: `${where} failed: ${result.message}`, fix: 'see the backend findings below' };
  switch (result.status) {
    case 200:
      return { level: 'ok', text: `${where} answered 200 ${result.body.trim().slice(0, 40)}` };
    case 401:
      return { level: 'problem', text: `${where} answered 401: the apiserver does not accept this credential`,
        fix: view.credential.kind === 'none'
          ? 'anonymous requests are off (--anonymous-auth=false): give the kubeconfig\'s user a client certificate or token'
          : view.credential.kind === 'token'
            ? 'the token is expired, revoked or from another cluster: issue a new one'
            : 'the client certificate is not signed by the cluster CA or has expired: renew it (kubelet: /var/lib/kubelet/pki/kubelet-client-current.pem)' };
    case 403:
      return { level: 'problem', text: `${where} answered 403: RBAC does not let this user GET /readyz`,
        fix: 'restore the default binding: kubectl create clusterrolebinding system:public-info-viewer --clusterrole=system:public-info-viewer ' +
          '--group=system:authenticated --group=system:unauthenticated' };
    case 500:
      return { level: 'warn', text: `${where} answered 500: the apiserver that answered is not ready`, fix: 'see the backend findings below' };
    default:
      return { level: 'warn', text: `${where} answered ${result.status}`, fix: 'see the backend findings below' };
  }
}

function identity(view: ClientView): string {
  switch (view.credential.kind) {
    case 'client-cert': {
      const cn = /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(view.credential.certPem).subject)?.[1];
      return `client certificate CN=${cn ?? '?'}`;
    }
    case 'token':
      return 'bearer token';
    case 'none':
      return 'anonymous';
  }
}

/** `CN=kube-apiserver` from X509Certificate's multi-line subject. */
function oneLine(name: string): string {
  return name.split('\n').filter((part) => part !== '').join(', ');
}
