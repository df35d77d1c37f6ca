/**
 * Run inside a test's "pod" network namespace: N fresh HTTPS GET /livez to HOST:PORT, one after
 * another, each on a new connection (a 200 `ok` is an answer), and one JSON line with the outcomes on stdout:
 * `{"ok":N,"refused":N,"timeout":N,"unreachable":N,"other":N,"answeredBy":{name:count}}`.
 *
 *   node pod-probe.js HOST PORT COUNT CA_FILE [TIMEOUT_MS]
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const [host = '', portText = '', countText = '', caFile = '', timeoutText = '2000'] = process.argv.slice(2);
const ca = readFileSync(caFile, 'utf8');
const timeoutMs = Number(timeoutText);
const outcomes = { ok: 0, refused: 0, timeout: 0, unreachable: 0, other: 0 };
const answeredBy: Record<string, number> = {};

function once(): Promise<keyof typeof outcomes> {
  return new Promise((resolve) => {
    let got = '';
    const socket = tls.connect({ host, port: Number(portText), ca, servername: 'kubernetes', ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ENETUNREACH' || err.code === 'EHOSTUNREACH' ? 'unreachable' : 'other');
    });
    socket.on('secureConnect', () => socket.write('GET /livez HTTP/1.1\r\nHost: kubernetes\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => {
      clearTimeout(timer);
      // A fake apiserver names itself in a header; a real one does not.
      const name = /x-fake-apiserver: (\S+)/i.exec(got)?.[1] ?? 'kube-apiserver';
      if (got.startsWith('HTTP/1.1 200 ') && got.endsWith('\r\n\r\nok')) {
        answeredBy[name] = (answeredBy[name] ?? 0) + 1;
        resolve('ok');
      } else {
        resolve('other');
      }
    });
  });
}

for (let i = 0; i < Number(countText); i++) outcomes[await once()] += 1;
process.stdout.write(`${JSON.stringify({ ...outcomes, answeredBy })}\n`);
