import { once } from 'node:events';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import https from 'node:https';
import net from 'node:net';

/**
 * Small real clients for tests against a fake apiserver (or a proxy in front of one): one
 * HTTPS request over HTTP/1.1, an HTTP/2 session and its requests, a bare TCP connect, and a
 * poll-to-deadline helper. They verify TLS like a kubeconfig with `tls-server-name: kubernetes`.
 */

/** An answer read to the end. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Where and how to connect. */
export interface Target {
  readonly host?: string;
  readonly port: number;
  readonly caPem: string;
  /** Default `kubernetes`. */
  readonly servername?: string;
  /** Client certificate. */
  readonly cert?: { readonly certPem: string; readonly keyPem: string };
}

/** One HTTP/1.1 request (no ALPN, like Go with HTTP/2 disabled). `agent` to reuse connections. */
export function h1Request(
  target: Target, path: string, options: { method?: string; headers?: Record<string, string>; agent?: https.Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: target.host ?? '127.0.0.1', port: target.port, path, method: options.method ?? 'GET',
      ca: target.caPem, servername: target.servername ?? 'kubernetes', headers: options.headers ?? {},
      ...(target.cert ? { cert: target.cert.certPem, key: target.cert.keyPem } : {}),
      agent: options.agent ?? false,
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

/** An HTTP/2 session (ALPN h2), connected and ready. */
export async function h2Connect(target: Target): Promise<ClientHttp2Session> {
  const session = http2.connect(`https://${target.host ?? '127.0.0.1'}:${target.port}`, {
    ca: target.caPem, servername: target.servername ?? 'kubernetes',
    ...(target.cert ? { cert: target.cert.certPem, key: target.cert.keyPem } : {}),
  });
  session.on('error', () => undefined);
  await once(session, 'connect');
  return session;
}

/** One request on an HTTP/2 session. */
export function h2Request(session: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body }));
    stream.on('error', reject);
  });
}

/** A plain TCP connect: resolves with the socket, rejects with the error (ECONNREFUSED…). */
export function tcpConnect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
