// The two proxies under test, configured alike: round-robin (HAProxy) or the product's default
// selection (kube-local-lb), active HTTP checks of /healthz every second, out after 2 failures,
// back after 1 success, check timeout 1 s, connect timeout 1 s, failed connects retried elsewhere.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand, startDaemon, stopDaemon, waitPort } from './procs.mjs';

export const PROXIES = ['haproxy', 'kube-local-lb'];
/** `--node-floor`: a plain Node proxy (node-pipe.mjs), run in these scenarios only. */
export const FLOOR_PROXY = 'node-pipe';
export const FLOOR_SCENARIOS = ['keepalive', 'newconn', 'bulk', 'memory'];
export const LABELS = { haproxy: 'HAProxy', 'kube-local-lb': 'kube-local-lb', 'node-pipe': 'plain Node proxy' };

/**
 * @param {object} o
 * @param {number} o.port            where the proxy listens (127.0.0.1)
 * @param {string[]} o.backends      HOST:PORT of each backend
 * @param {number} o.intervalMs      health check interval
 * @param {boolean} o.shutdownSessions  HAProxy only: `on-marked-down shutdown-sessions`
 * @param {object|undefined} o.tls   { caFile } when the backends speak TLS
 * @param {string} o.logFile
 */
function haproxyConfig(o) {
  const server = o.tls ? ' check-ssl verify none' : '';
  return `# written by bench/lib/proxies.mjs
global
    maxconn 8000

defaults
    mode tcp
    maxconn 8000
    timeout connect 1s
    timeout check 1s
    timeout client 10m
    timeout server 10m
    retries 3
    option redispatch 1

frontend apiserver
    bind 127.0.0.1:${o.port}
    default_backend apiservers

backend apiservers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter ${o.intervalMs}ms fall 2 rise 1${o.shutdownSessions ? ' on-marked-down shutdown-sessions' : ''}
${o.backends.map((b, i) => `    server b${i + 1} ${b} check${server}`).join('\n')}
`;
}

function kubeLocalLbArgs(o) {
  const tls = o.tls ? ['--health-ca-file', o.tls.caFile, '--health-tls-server-name', 'kubernetes'] : ['--health-scheme', 'http'];
  return [
    path.join(o.repoRoot, 'dist', 'main.js'), 'run',
    '--listen', `127.0.0.1:${o.port}`,
    ...o.backends.flatMap((b) => ['--backend', b]),
    '--health-path', '/healthz',
    '--health-interval', `${o.intervalMs}ms`,
    '--health-timeout', '1s',
    '--health-fall', '2',
    '--health-rise', '1',
    '--connect-timeout', '1s',
    '--admin-listen', '127.0.0.1:0',
    '--log-level', 'warn',
    ...tls,
    ...o.extraArgs,
  ];
}

/**
 * Starts proxy `name` fresh and resolves once its port accepts connections.
 * Returns { name, pid, daemon, logFile }; throws with the log's tail when it does not come up.
 */
export async function startProxy(name, o) {
  let daemon;
  if (name === 'haproxy') {
    const cfg = path.join(o.dir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(o));
    const check = await runCommand('haproxy', ['-c', '-q', '-f', cfg], { timeoutMs: 10000 });
    if (check.code !== 0) throw new Error(`haproxy rejected ${cfg}: ${check.stderr.trim()}`);
    daemon = startDaemon('haproxy', 'haproxy', ['-db', '-f', cfg], { logFile: o.logFile });
  } else if (name === 'kube-local-lb') {
    daemon = startDaemon('kube-local-lb', process.execPath, kubeLocalLbArgs(o), { logFile: o.logFile });
  } else if (name === FLOOR_PROXY) {
    const script = path.join(o.repoRoot, 'bench', 'lib', 'node-pipe.mjs');
    daemon = startDaemon(name, process.execPath, [script, String(o.port), ...o.backends], { logFile: o.logFile });
  } else {
    throw new Error(`unknown proxy ${name}`);
  }
  const up = await Promise.race([waitPort('127.0.0.1', o.port, 10000), daemon.exited.then(() => false)]);
  if (!up) {
    await stopDaemon(daemon);
    throw new Error(`${name} did not listen on 127.0.0.1:${o.port}; see ${o.logFile}`);
  }
  return { name, pid: daemon.pid, daemon, logFile: o.logFile };
}

/** SIGTERM by PID, and wait for the exit (kube-local-lb's shutdown grace is 10 s; then SIGKILL). */
export function stopProxy(proxy) {
  return stopDaemon(proxy.daemon, 12000);
}

// ---- --real-cluster: the proxies as nodes run them in front of real apiservers ---------------

/**
 * HAProxy as kubeadm's HA guide sets it up for a static pod (kubernetes/kubeadm,
 * docs/ha-considerations.md): a TCP frontend, round-robin, the guide's timeouts, retries and
 * redispatch, HAProxy's default check timing (inter 2s, fall 3, rise 2), and the check the guide
 * means made to work against a real apiserver: `GET /readyz` over TLS (`check-ssl verify none`),
 * anonymous, which the default RBAC allows.
 * @param {{ listen: string, backends: string[] }} o
 */
export function realHaproxyConfig(o) {
  return `# written by bench/lib/proxies.mjs: kubeadm's HA guide, checks GET /readyz over TLS
defaults
    mode tcp
    option redispatch
    retries 1
    timeout queue 20s
    timeout connect 5s
    timeout client 20s
    timeout server 20s
    timeout check 10s

frontend apiserver
    bind ${o.listen}
    default_backend apiserverbackend

backend apiserverbackend
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
${o.backends.map((b, i) => `    server apiserver-${i + 1} ${b} check check-ssl verify none`).join('\n')}
`;
}

/**
 * nginx as kubespray's nginx-proxy static pod runs it on every node (kubernetes-sigs/kubespray,
 * roles/kubernetes/node/templates/loadbalancer/nginx.conf.j2): the stream module, least_conn, no
 * active checks, so nginx's passive defaults decide (max_fails=1 fail_timeout=10s: one failed
 * connect takes a server out for 10 s), proxy_timeout 10m, proxy_connect_timeout 1s.
 * @param {{ listen: string, backends: string[], dir: string, streamModule: string | undefined }} o
 */
export function realNginxConfig(o) {
  return `# written by bench/lib/proxies.mjs: kubespray's nginx-proxy
${o.streamModule ? `load_module ${o.streamModule};\n` : ''}daemon off;
pid ${o.dir}/nginx-proxy.pid;
error_log stderr notice;
worker_processes 2;
worker_rlimit_nofile 130048;
worker_shutdown_timeout 10s;

events {
  multi_accept on;
  use epoll;
  worker_connections 16384;
}

stream {
  upstream kube_apiserver {
    least_conn;
${o.backends.map((b) => `    server ${b};`).join('\n')}
  }

  server {
    listen        ${o.listen};
    proxy_pass    kube_apiserver;
    proxy_timeout 10m;
    proxy_connect_timeout 1s;
  }
}
`;
}

/**
 * The stream module nginx needs loaded, from `nginx -V`: undefined when it is built in, the
 * .so's path when it is a dynamic module, or an Error naming the package when it is missing.
 */
export async function nginxStreamModule() {
  const r = await runCommand('nginx', ['-V'], { timeoutMs: 5000 });
  const text = `${r.stdout}${r.stderr}`;
  if (/--with-stream(\s|$)/.test(text)) return undefined;
  if (!/--with-stream=dynamic/.test(text)) return new Error('nginx is built without the stream module');
  const dir = /--modules-path=(\S+)/.exec(text)?.[1] ?? '/usr/lib/nginx/modules';
  const so = path.join(dir, 'ngx_stream_module.so');
  return existsSync(so) ? so : new Error(`nginx's stream module is not installed (${so}): apt-get install -y libnginx-mod-stream`);
}
