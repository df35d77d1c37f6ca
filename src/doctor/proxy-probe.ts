import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { formatHostPort } from '../config/address.js';
import type { HostPort } from '../config/schema.js';
import type { ClientCredential } from '../kubeconfig/client.js';

// A TLS handshake through a node-local proxy to a healthy apiserver takes milliseconds; 5 s
// covers a replay to a second backend after a first one that never answered.
const TIMEOUT_MS = 5000;

/** The certificate the proxy's backend served, and how OpenSSL judged its chain. */
export interface Served {
  kind: 'served';
  certificate: X509Certificate;
  /** The OpenSSL verification error against the given CA, or undefined when the chain verifies. */
  chainError: string | undefined;
}

export type ProbeResult = Served | { kind: 'failed'; code: string; message: string };

/**
 * One TLS handshake through the proxy, as a client would start it: SNI is `serverName` (Go sends
 * none for an IP), trust is `caPem` or the system roots. The name is not checked here: the caller
 * judges it, so that it can say which name failed and why.
 */
export function probeProxy(proxy: HostPort, caPem: string | undefined, serverName: string | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: proxy.host,
      port: proxy.port,
      ...(caPem !== undefined ? { ca: caPem } : {}),
      ...(serverName !== undefined && isIP(serverName) === 0 ? { servername: serverName } : {}),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ kind: 'failed', code: 'timeout', message: `no TLS answer within ${TIMEOUT_MS / 1000} s` }), TIMEOUT_MS);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      if (!peer || !peer.raw) {
        done({ kind: 'failed', code: 'no_certificate', message: 'the server sent no certificate' });
        return;
      }
      const chainError = socket.authorized ? undefined : String(socket.authorizationError ?? 'unverified');
      done({ kind: 'served', certificate: new X509Certificate(peer.raw), chainError });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => done({ kind: 'failed', code: err.code ?? 'error', message: err.message }));
    socket.once('close', () => done({ kind: 'failed', code: 'closed', message: `${formatHostPort(proxy)} closed the connection before the TLS handshake completed` }));
  });
}

/** What one request with a kubeconfig's credential got. */
export type RequestResult = { kind: 'answer'; status: number; body: string } | { kind: 'failed'; message: string };

/**
 * GET `path` through the proxy with the client's credential, trusting `caPem`. Called only once
 * the chain and the name are known to verify; the request shows whether the credential is taken.
 */
export function requestThroughProxy(proxy: HostPort, path: string, caPem: string | undefined, serverName: string | undefined,
  credential: ClientCredential): Promise<RequestResult> {
  return new Promise((resolve) => {
    const req = https.request({
      host: proxy.host,
      port: proxy.port,
      path,
      method: 'GET',
      agent: false,
      timeout: TIMEOUT_MS,
      ...(caPem !== undefined ? { ca: caPem } : {}),
      ...(serverName !== undefined && isIP(serverName) === 0 ? { servername: serverName } : {}),
      // The name was judged already (it holds); here only the credential is in question.
      checkServerIdentity: () => undefined,
      ...(credential.kind === 'client-cert' ? { cert: credential.certPem, key: credential.keyPem } : {}),
      headers: { 'user-agent': 'kube-local-lb-doctor', ...(credential.kind === 'token' ? { authorization: `Bearer ${credential.token}` } : {}) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => resolve({ kind: 'answer', status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ kind: 'failed', message: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'failed', message: err.code ?? err.message }));
    req.end();
  });
}
