import http from 'node:http';

export interface Answer {
  status: number;
  backend: string;
  body: string;
  /** The Content-Type header. */
  type: string;
  socketPort: number;
}

/** One GET through the proxy; resolves with who answered. `agent` keeps a session open. */
export function get(port: number, path = '/', agent?: http.Agent, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          backend: String(res.headers['x-backend'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
          type: String(res.headers['content-type'] ?? ''),
          socketPort: req.socket?.localPort ?? 0,
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
