import { getText } from '../admin/client.js';
import { type BackendView, parseBackends } from '../admin/document.js';
import type { Finding } from './finding.js';

/** What to do about a backend that is down, by the reason the pool gives (health/verdict.ts). */
const DOWN_FIXES: Readonly<Record<string, string>> = {
  refused: 'nothing listens there: is kube-apiserver running on that node (crictl ps --name kube-apiserver)?',
  reset: 'the connection was reset: is that an apiserver port? Look at the apiserver\'s log on that node',
  connect_timeout: 'no answer to connect: check the node, and that a firewall lets this node reach the port',
  timeout: 'connected but no answer: the apiserver is frozen or overloaded, or packets are dropped on the way',
  first_byte_timeout: 'connected but no answer: the apiserver is frozen or overloaded, or packets are dropped on the way',
  unroutable: 'no route to the address: check the node\'s network and the backend address',
  dns: 'the backend\'s name does not resolve from this node: use its IP, or fix DNS',
  tls_name: 'its certificate does not hold the checks\' server name: set --health-tls-server-name to one of its names (kubeadm: kubernetes)',
  tls_verify: 'its certificate does not chain to the checks\' CA: set --health-ca-file to the cluster CA (/etc/kubernetes/pki/ca.crt), or use --health-auth kubeconfig',
  tls_handshake: 'the TLS handshake failed: is that an apiserver (HTTPS) port?',
  closed: 'the connection closed before an answer: look at the apiserver\'s log on that node',
  error: 'look at kube-local-lb\'s log (event backend_state) for the error',
};

/**
 * The backends as the admin endpoint's `/backends` shows them: one finding per backend (its state
 * and last check), one per kind of refused health credential with the RBAC fix, and one when no
 * backend can take a session.
 */
export async function backendFindings(adminUrl: string): Promise<Finding[]> {
  const url = `${adminUrl.replace(/\/+$/, '')}/backends`;
  let body: string;
  try {
    body = await getText(url);
  } catch (err) {
    return [{ level: 'problem', text: `cannot read ${url}: ${err instanceof Error ? err.message : String(err)}`,
      fix: 'is kube-local-lb running? Pass --admin with its --admin-listen address (default http://127.0.0.1:9445)' }];
  }
  const parsed = parseBackends(body);
  if (!parsed) return [{ level: 'problem', text: `${url} did not answer a backend list`, fix: 'check that --admin names kube-local-lb\'s admin endpoint' }];
  const { backends, panic } = parsed;
  if (backends.length === 0) return [{ level: 'problem', text: 'the proxy has no backend', fix: 'give it the apiservers: --backend HOST:PORT for each' }];
  const findings = backends.map(backendFinding);
  findings.push(...authorizationFindings(backends));
  if (!backends.some((b) => b.state === 'up' || b.state === 'unknown')) {
    findings.push(panic
      ? { level: 'problem', text: 'panic: no backend is ready, new sessions go to draining backends', fix: 'bring an apiserver back to ready: see the draining backends above' }
      : { level: 'problem', text: 'no backend can take a session: every client connection is closed at once', fix: 'see the backends above' });
  }
  return findings;
}

function backendFinding(b: BackendView): Finding {
  const check = b.lastCheck ? `last check ${b.lastCheck.verdict} (${b.lastCheck.reason}${b.lastCheck.status ? ` ${b.lastCheck.status}` : ''}) at ${b.lastCheck.at}` : 'not checked yet';
  const head = `backend ${b.address}: ${b.state} since ${b.since}, ${b.sessions} sessions, ${check}`;
  switch (b.state) {
    case 'up':
      return { level: 'ok', text: head };
    case 'unknown':
      return { level: 'warn', text: head, fix: 'wait one check interval; if it stays unknown, look at kube-local-lb\'s log' };
    case 'draining':
      return { level: 'warn', text: `${head}: ${b.reasonText ?? 'not ready'}; it gets no new sessions`,
        fix: 'the apiserver answers but is not ready (shutting down, or a check such as etcd failing): kubectl get --raw \'/readyz?verbose\' against it shows which' };
    case 'down':
      return { level: 'problem', text: `${head}: ${b.reasonText ?? 'unreachable'}`, fix: DOWN_FIXES[b.reason ?? 'error'] ?? DOWN_FIXES['error'] ?? '' };
    default:
      return { level: 'warn', text: head, fix: 'a state this doctor does not know: compare its version with the proxy\'s' };
  }
}

/**
 * Refused health credentials never take a backend out of service (DESIGN.md), so they show only
 * here, in `kube_local_lb_backend_check_authorized` and in one log line per change.
 */
function authorizationFindings(backends: readonly BackendView[]): Finding[] {
  const refused = (reason: string): string[] => backends.filter((b) => b.lastCheck?.reason === reason).map((b) => b.address);
  const unauthorized = refused('unauthorized');
  const forbidden = refused('forbidden');
  const stale = backends.filter((b) => !b.checkAuthorized && !unauthorized.includes(b.address) && !forbidden.includes(b.address)).map((b) => b.address);
  const findings: Finding[] = [];
  if (forbidden.length > 0) {
    findings.push({ level: 'problem',
      text: `health checks of ${forbidden.join(', ')} are forbidden (403): the probe's user may not GET the health path; the backends stay in service, unchecked`,
      fix: 'restore the default binding: kubectl create clusterrolebinding system:public-info-viewer --clusterrole=system:public-info-viewer ' +
        '--group=system:authenticated --group=system:unauthenticated; or give the checks a credential whose user may: ' +
        '--health-auth token|client-cert|kubeconfig (e.g. --health-auth kubeconfig --health-kubeconfig /etc/kubernetes/kubelet.conf)' });
  }
  if (unauthorized.length > 0) {
    findings.push({ level: 'problem',
      text: `health checks of ${unauthorized.join(', ')} are refused (401): anonymous requests are off (--anonymous-auth=false) or the probe credential is not accepted; the backends stay in service, unchecked`,
      fix: 'give the checks a credential: --health-auth kubeconfig --health-kubeconfig /etc/kubernetes/kubelet.conf (or token|client-cert); ' +
        'or allow anonymous on the health paths only: AuthenticationConfiguration anonymous: {enabled: true, conditions: [{path: /livez}, {path: /readyz}, {path: /healthz}]} ' +
        '(Kubernetes 1.32+, instead of --anonymous-auth)' });
  }
  if (stale.length > 0) {
    findings.push({ level: 'warn', text: `health checks of ${stale.join(', ')} were refused recently (401/403)`,
      fix: 'see kube-local-lb\'s log (event backend_check_unauthorized) for the credential used' });
  }
  return findings;
}
