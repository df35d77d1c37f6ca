/**
 * A TLS client of kube-local-lb, run as its own process inside the namespace where the proxy
 * listens (`ip netns exec NS node ns-client.js CA_FILE`). It reads one JSON command a line on
 * stdin and answers one JSON line on stdout with the command's `id`:
 *   {"id":1,"op":"livez","host":"127.0.0.1","port":N}   GET /livez on a fresh connection
 *                                                         (Connection: close): {"id":1,"name":…}
 *   {"id":2,"op":"open","host":…,"port":N}               a kept-alive session, asked once: {"id":2,"name":…}
 *   {"id":3,"op":"ask","session":2}                       one more GET on session 2: {"id":3,"name":…}
 *   {"id":4,"op":"destroy","session":2}                   {"id":4}
 * A failure answers {"id":…,"error":"…"}. When a kept-alive session closes it prints
 * {"event":"closed","session":2,"at":<epoch ms>}.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import tls from 'node:tls';

const ca = readFileSync(process.argv[2] ?? '', 'utf8');
const sessions = new Map<number, tls.TLSSocket>();
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

function connect(host: string, port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host, port, ca, servername: 'kubernetes', ALPNProtocols: ['http/1.1'] });
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One GET /livez on a kept-alive session: the name of the apiserver that answered. */
function ask(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      const name = /x-fake-apiserver: (\S+)/i.exec(got)?.[1];
      if (name && got.includes('\r\n\r\n') && got.endsWith('ok')) {
        socket.off('data', onData);
        resolve(name);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed')));
    socket.write('GET /livez HTTP/1.1\r\nHost: kubernetes\r\n\r\n');
  });
}

function livez(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, ca, servername: 'kubernetes', ALPNProtocols: ['http/1.1'] });
    let got = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within 10 s: ${got}`)), 10_000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('secureConnect', () => socket.write('GET /livez HTTP/1.1\r\nHost: kubernetes\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => {
      clearTimeout(timer);
      const name = /x-fake-apiserver: (\S+)/i.exec(got)?.[1];
      if (name && got.endsWith('ok')) resolve(name);
      else reject(new Error(`not an answer: ${got}`));
    });
  });
}

interface Command { id: number; op: string; host?: string; port?: number; session?: number }

async function handle(c: Command): Promise<object> {
  const host = c.host ?? '127.0.0.1';
  if (c.op === 'livez') return { name: await livez(host, c.port ?? 0) };
  if (c.op === 'open') {
    const socket = await connect(host, c.port ?? 0);
    socket.on('error', () => undefined);
    sessions.set(c.id, socket);
    socket.once('close', () => out({ event: 'closed', session: c.id, at: Date.now() }));
    return { name: await ask(socket) };
  }
  const socket = sessions.get(c.session ?? -1);
  if (!socket) throw new Error(`no session ${c.session}`);
  if (c.op === 'ask') return { name: await ask(socket) };
  if (c.op === 'destroy') {
    socket.destroy();
    return {};
  }
  throw new Error(`unknown op ${c.op}`);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line) as Command;
  handle(c).then((r) => out({ id: c.id, ...r }), (err: unknown) => out({ id: c.id, error: String(err) }));
}).on('close', () => process.exit(0));
