/**
 * Every way a check (or a session's connect) can end, as one table: the key is the `reason`
 * label in metrics and the `reason` field in logs; the verdict is what the state machine reads.
 */
export type Verdict = 'pass' | 'fail' | 'unauthorized' | 'unreachable';

export const REASONS = {
  ok: { verdict: 'pass', text: 'ready' },
  // An HTTP answer that is not a pass: the apiserver is alive but not ready.
  not_ready: { verdict: 'fail', text: 'health endpoint answered, not ok' },
  shutting_down: { verdict: 'fail', text: 'health endpoint answered 500: not ready or shutting down' },
  // /readyz's failing checks name etcd: this apiserver cannot reach its storage, so its answers
  // fail while it stays up; unlike a shutdown it will not end its connections itself.
  etcd_failed: { verdict: 'fail', text: 'health endpoint answered 500: its etcd check failed' },
  // A starting apiserver: its post-start hooks or informers have not finished (after a restart,
  // about 1-5 s of 500 before the first 200).
  starting: { verdict: 'fail', text: 'health endpoint answered 500: still starting (post-start hooks or informers not done)' },
  unavailable: { verdict: 'fail', text: 'health endpoint answered 503' },
  throttled: { verdict: 'fail', text: 'health endpoint answered 429' },
  http_status: { verdict: 'fail', text: 'health endpoint answered an unexpected status' },
  // The health endpoint kept us waiting past the timeout while a ping on a fresh connection was
  // answered: alive, not ready (under an etcd outage /readyz takes 2-4 s and then answers 500).
  slow: { verdict: 'fail', text: 'health endpoint too slow while the apiserver answers its ping (etcd?)' },
  // 401/403 here while another backend accepts the same credential: this apiserver is not ready
  // (until RBAC's caches sync, a starting apiserver answers 403 to everyone but system:masters).
  refused_here: { verdict: 'fail', text: 'probe credential refused here but accepted by another backend: not ready' },
  // The apiserver answered, so it is alive; our probe credential is what was refused.
  unauthorized: { verdict: 'unauthorized', text: 'probe credential rejected (401)' },
  forbidden: { verdict: 'unauthorized', text: 'probe not allowed by RBAC (403)' },
  // Nothing usable came back.
  refused: { verdict: 'unreachable', text: 'connection refused' },
  reset: { verdict: 'unreachable', text: 'connection reset' },
  connect_timeout: { verdict: 'unreachable', text: 'connect timed out' },
  timeout: { verdict: 'unreachable', text: 'no answer within the timeout' },
  first_byte_timeout: { verdict: 'unreachable', text: 'connected, but no first byte within the timeout' },
  unroutable: { verdict: 'unreachable', text: 'network or host unreachable' },
  dns: { verdict: 'unreachable', text: 'name does not resolve' },
  tls_name: { verdict: 'unreachable', text: 'certificate does not match the server name' },
  tls_verify: { verdict: 'unreachable', text: 'certificate not trusted' },
  tls_handshake: { verdict: 'unreachable', text: 'TLS handshake failed' },
  closed: { verdict: 'unreachable', text: 'connection closed before an answer' },
  error: { verdict: 'unreachable', text: 'connection error' },
} as const satisfies Record<string, { verdict: Verdict; text: string }>;

export type Reason = keyof typeof REASONS;

export function verdictOf(reason: Reason): Verdict {
  return REASONS[reason].verdict;
}

/** Maps a socket or TLS error to a reason. Unknown codes are `error`, never a throw. */
export function reasonOfError(err: unknown): Reason {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return 'unroutable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return 'dns';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'tls_name';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
      return 'tls_verify';
    default:
      if (typeof code === 'string' && code.startsWith('ERR_SSL')) return 'tls_handshake';
      if (typeof code === 'string' && code.startsWith('ERR_TLS')) return 'tls_handshake';
      return 'error';
  }
}

/** Maps an HTTP answer of the health endpoint to a reason. */
export function reasonOfAnswer(status: number, body: string): Reason {
  if (status === 200) return body.trim() === 'ok' || body.includes('check passed') ? 'ok' : 'not_ready';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 500) return reasonOf500(body);
  if (status === 503) return 'unavailable';
  if (status === 429) return 'throttled';
  return 'http_status';
}

/**
 * A 500 lists the failing checks, one `[-]name failed: ...` line each (the real apiserver prints
 * them even without `?verbose`). Shutdown wins over everything: a stopping apiserver fails its
 * other checks too. Then etcd, then start-up; any other 500 reads as not ready or stopping.
 */
function reasonOf500(body: string): Reason {
  if (/^\[-\]shutdown/m.test(body)) return 'shutting_down';
  if (/^\[-\]etcd/m.test(body)) return 'etcd_failed';
  if (/^\[-\](poststarthook\/|informer-sync)/m.test(body)) return 'starting';
  return 'shutting_down';
}
