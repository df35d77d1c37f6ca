import http from 'node:http';

/** How long a command waits for the admin endpoint: it is on this node or next to it. */
export const ADMIN_TIMEOUT_MS = 3000;

/**
 * GETs `url` and resolves with the body of a 200 answer. Rejects with an Error whose message is
 * the socket error's code (`ECONNREFUSED`, `ENOTFOUND`), `no answer within 3 s`, or `HTTP 404`.
 */
export function getText(url: string, timeoutMs = ADMIN_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode ?? '?'}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
  });
}
