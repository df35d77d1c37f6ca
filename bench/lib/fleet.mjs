// The backends: N independent nginx instances standing in for apiservers. Each has its own
// master and workers, so SIGSTOP or SIGKILL on one instance's process tree hits exactly one
// backend. Every response carries "X-Backend: bN", so a client can tell who answered.
import { randomFillSync } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { get } from './http-get.mjs';
import { freezeTree, killTree, processTree, startDaemon, stopDaemon, thawTree, waitPort, waitPortClosed } from './procs.mjs';

export const BIG_BYTES = 64 * 1024 * 1024;
/** Backend i's counters listen on its port + this. */
export const COUNTERS_OFFSET = 10;

export class Fleet {
  /**
   * @param {object} o
   * @param {string} o.scratch   scratch directory (world-traversable: nginx workers run as nobody)
   * @param {number} o.count     number of backends
   * @param {number} o.portBase  backend i listens on portBase + i, its counters on that + COUNTERS_OFFSET
   * @param {number} o.workers   nginx worker processes per backend
   * @param {{caFile: string, certFile: string, keyFile: string} | undefined} o.tls
   * @param {(msg: string) => void} o.log
   */
  constructor(o) {
    this.o = o;
    this.www = path.join(o.scratch, 'www');
    this.backends = Array.from({ length: o.count }, (_, k) => ({
      index: k + 1,
      name: `b${k + 1}`,
      port: o.portBase + k + 1,
      host: '127.0.0.1',
      netns: undefined,
      dir: path.join(o.scratch, `backend-b${k + 1}`),
      daemon: undefined,
    }));
  }

  get scheme() {
    return this.o.tls ? 'https' : 'http';
  }

  /** The bodies every backend serves: /small.json (~1 KB, a PodList) and /big.bin (64 MiB). */
  writeContent() {
    mkdirSync(this.www, { recursive: true });
    const items = [];
    for (let i = 0; JSON.stringify(items).length < 850; i++) {
      items.push({ metadata: { name: `pod-${i}`, namespace: 'default', uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}` }, status: { phase: 'Running' } });
    }
    writeFileSync(path.join(this.www, 'small.json'), `${JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '4711' }, items })}\n`);
    // Random bytes: incompressible, like the gzip-less protobuf of a big LIST.
    const fd = openSync(path.join(this.www, 'big.bin'), 'w');
    const chunk = Buffer.alloc(1 << 20);
    for (let written = 0; written < BIG_BYTES; written += chunk.length) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    for (const p of [this.o.scratch, this.www]) chmodSync(p, 0o755);
  }

  /** HOST:PORT of every backend, as the proxies get them. */
  addresses() {
    return this.backends.map((b) => `${b.host}:${b.port}`);
  }

  url(b, urlPath) {
    return `${this.scheme}://${b.host}:${b.port}${urlPath}`;
  }

  #config(b) {
    const tls = this.o.tls;
    const tmp = path.join(b.dir, 'tmp');
    return `# backend ${b.name}, written by bench/lib/fleet.mjs
daemon off;
master_process on;
worker_processes ${this.o.workers};
worker_rlimit_nofile 16384;
pid ${b.dir}/nginx.pid;
error_log ${b.dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  # Long keep-alive, like an apiserver's: the proxies' keep-alive checks reuse one connection.
  keepalive_timeout 600s;
  keepalive_requests 100000000;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server {
    listen ${b.host}:${b.port} backlog=511${tls ? ' ssl' : ''};
${tls ? `    ssl_certificate ${tls.certFile};\n    ssl_certificate_key ${tls.keyFile};\n` : ''}    root ${this.www};
    add_header X-Backend ${b.name} always;
    location = /healthz { default_type text/plain; return 200 "ok"; }
    location = /readyz { default_type text/plain; return 200 "ok"; }
    location = /small.json { default_type application/json; }
    location = /big.bin { default_type application/octet-stream; }
    location / { return 404; }
  }
  # nginx's counters on a plain side port, so that reading them costs no TLS handshake.
  server {
    listen ${b.host}:${b.port + COUNTERS_OFFSET};
    location = /counters { stub_status; }
  }
}
`;
  }

  /** Starts backend `b` (in network namespace `b.netns` when set) and waits for its port. */
  async start(b) {
    if (b.daemon) return;
    mkdirSync(path.join(b.dir, 'tmp'), { recursive: true });
    const conf = path.join(b.dir, 'nginx.conf');
    writeFileSync(conf, this.#config(b));
    const nginx = ['nginx', '-p', b.dir, '-e', path.join(b.dir, 'error.log'), '-c', conf];
    // `ip netns exec` enters the namespace and execs nginx in place: the PID is nginx's master.
    const [command, ...args] = b.netns ? ['ip', 'netns', 'exec', b.netns, ...nginx] : nginx;
    const daemon = startDaemon(`nginx ${b.name}`, command, args, { logFile: path.join(b.dir, 'out.log') });
    b.daemon = daemon;
    const up = await Promise.race([waitPort(b.host, b.port, 10000), daemon.exited.then(() => false)]);
    if (!up) {
      await this.stop(b);
      throw new Error(`backend ${b.name} did not start on ${b.host}:${b.port} (see ${b.dir}/error.log)`);
    }
  }

  async stop(b) {
    const daemon = b.daemon;
    b.daemon = undefined;
    if (daemon) await stopDaemon(daemon);
  }

  /** Every process of every backend (for CPU accounting). */
  pids() {
    return this.backends.flatMap((b) => (b.daemon?.pid ? processTree(b.daemon.pid) : []));
  }

  /** SIGSTOP on all of b's processes: its listen socket stays, so connects still complete in the kernel. */
  async freeze(b) {
    if (b.daemon?.pid) await freezeTree(b.daemon.pid);
  }

  thaw(b) {
    if (b.daemon?.pid) thawTree(b.daemon.pid);
  }

  /** SIGKILL on all of b's processes; returns once its port refuses connections. */
  async kill(b) {
    const daemon = b.daemon;
    if (!daemon?.pid) return;
    await killTree(daemon.pid);
    await daemon.exited;
    b.daemon = undefined;
    if (!(await waitPortClosed(b.host, b.port, 3000))) throw new Error(`backend ${b.name}: port ${b.port} still accepts after SIGKILL`);
  }

  async healthy(b) {
    if (!b.daemon) return false;
    const r = await get(this.url(b, '/healthz'), { ca: this.o.tls?.caPem, timeoutMs: 2000 });
    return r.status === 200 && r.body === 'ok';
  }

  /** Makes sure every backend runs and answers, restarting any that does not. */
  async ensureAll() {
    for (const b of this.backends) {
      if (await this.healthy(b)) continue;
      this.o.log(`backend ${b.name} is not healthy: restarting it`);
      this.thaw(b);
      await this.stop(b);
      await this.start(b);
      if (!(await this.healthy(b))) throw new Error(`backend ${b.name} does not answer /healthz after a restart (see ${b.dir}/error.log)`);
    }
  }

  /** nginx's counters (stub_status): connections accepted and requests served so far. */
  async counters(b) {
    const r = await get(`http://${b.host}:${b.port + COUNTERS_OFFSET}/counters`, { timeoutMs: 2000 });
    const m = /\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n/.exec(r.body ?? '');
    if (r.status !== 200 || !m) throw new Error(`backend ${b.name}: no counters (${r.error ?? r.status})`);
    return { accepts: Number(m[1]), requests: Number(m[3]) };
  }

  async stopAll() {
    for (const b of this.backends) {
      this.thaw(b);
      await this.stop(b);
    }
  }
}
