// One GET on a fresh connection, bounded in time: used to probe backends directly and to read
// nginx's request counters. Never rejects.
import http from 'node:http';
import https from 'node:https';

/** Resolves { status, body, headers } or { error }. `ca`: PEM for https URLs. */
export function get(url, { ca, timeoutMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const req = mod.request(u, { agent: false, ca, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => finish({ status: res.statusCode, body, headers: res.headers }));
      res.on('error', (err) => finish({ error: err.code ?? err.message }));
    });
    const timer = setTimeout(() => {
      finish({ error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ error: err.code ?? err.message }));
    req.end();
  });
}
