import { DEFAULTS, BALANCE, HEALTH_AUTH, HEALTH_SCHEME, LOG_LEVELS, REPLAY } from './schema.js';
import type { ConfigPath, ConfigPathFor } from './schema.js';
import { adminAddress, backendList, listenList } from './address-values.js';
import { clusterIpTarget, interfaceName, linkLocalAddress } from './cluster-ip-values.js';
import { boolean, duration, filePath, hostName, httpPath, integer, oneOf, optionalDirectory, type ValueKind } from './values.js';

export type SettingKey = keyof Settings;

export type SettingGroup = 'proxy' | 'health' | 'discovery' | 'cluster-ip' | 'admin';

export interface SettingSpec<T> {
  /** The flag without dashes; the environment variable is derived from it (`envName`). */
  flag: string;
  /** Where the value goes in `Config`: a key, or `section.key`; the types must agree. */
  config: ConfigPathFor<T>;
  /** Dotted path of the key in the YAML file. */
  file: string;
  group: SettingGroup;
  describe: string;
  kind: ValueKind<T>;
  /** undefined: unset unless given (credential files, backends). */
  default: T | undefined;
}

const MS = { second: 1000, minute: 60_000, hour: 3_600_000 };

const timeout = duration({ minMs: 1, maxMs: MS.minute });
const period = duration({ minMs: 0, maxMs: MS.hour });
const { health } = DEFAULTS;

const TABLE = {
  listen: setting({
    flag: 'listen',
    config: 'listen',
    file: 'listen',
    group: 'proxy',
    describe: 'Address the proxy accepts clients on: IPv4:PORT or [IPv6]:PORT; repeat for several. Port 0 picks a free port. ' +
      'The default port is 6444 on every node: kube-apiserver holds *:6443 on control-plane nodes',
    kind: listenList(),
    default: DEFAULTS.listen.map((address) => ({ ...address })),
  }),
  backends: setting({
    flag: 'backend',
    config: 'backends',
    file: 'backends',
    group: 'proxy',
    describe:
      'An apiserver to forward to, HOST:PORT[,priority=N][,weight=N]; repeat for each. HOST is an IPv4 address, ' +
      '[IPv6] or DNS name. priority 0-100 (default 0): lower is preferred, worse priorities get sessions only when no ' +
      'better backend is eligible. weight 1-100 (default 1): share among backends of one priority (round-robin, random). ' +
      'Example: --backend 10.0.0.1:6443 --backend cp2.example.com:6443,priority=1. Required',
    kind: backendList(),
    default: undefined,
  }),
  balance: setting({
    flag: 'balance',
    config: 'balance',
    file: 'balance',
    group: 'proxy',
    describe: 'How a new session picks among the eligible backends of the best priority (least-conn: fewest active sessions, ties at random)',
    kind: oneOf(BALANCE),
    default: DEFAULTS.balance,
  }),
  connectTimeoutMs: setting({
    flag: 'connect-timeout',
    config: 'connectTimeoutMs',
    file: 'connectTimeout',
    group: 'proxy',
    describe: 'Time allowed to connect to a backend before the session is replayed on another (1ms-1m)',
    kind: timeout,
    default: DEFAULTS.connectTimeoutMs,
  }),
  firstByteTimeoutMs: setting({
    flag: 'first-byte-timeout',
    config: 'firstByteTimeoutMs',
    file: 'firstByteTimeout',
    group: 'proxy',
    describe: 'Time allowed for a backend\'s first byte (its TLS ServerHello) before the session is replayed on another (1ms-1m)',
    kind: timeout,
    default: DEFAULTS.firstByteTimeoutMs,
  }),
  replay: setting({
    flag: 'replay',
    config: 'replay',
    file: 'replay',
    group: 'proxy',
    describe: 'When a session whose backend failed before answering is retried on another backend: tls (only if the client began a TLS handshake), always, never',
    kind: oneOf(REPLAY),
    default: DEFAULTS.replay,
  }),
  maxConnections: setting({
    flag: 'max-connections',
    config: 'maxConnections',
    file: 'maxConnections',
    group: 'proxy',
    describe: 'Client connections open at once; above it new clients are refused (1-1000000)',
    kind: integer({ min: 1, max: 1_000_000 }),
    default: DEFAULTS.maxConnections,
  }),
  drainTimeoutMs: setting({
    flag: 'drain-timeout',
    config: 'drainTimeoutMs',
    file: 'drainTimeout',
    group: 'proxy',
    describe: 'How long sessions may stay on a draining (answering but not ready) backend before they are closed (0-1h)',
    kind: period,
    default: DEFAULTS.drainTimeoutMs,
  }),
  slowStartMs: setting({
    flag: 'slow-start',
    config: 'slowStartMs',
    file: 'slowStart',
    group: 'proxy',
    describe: 'Ramp-up of new sessions to a backend that came back up (0 disables, up to 1h)',
    kind: period,
    default: DEFAULTS.slowStartMs,
  }),
  shutdownGraceMs: setting({
    flag: 'shutdown-grace',
    config: 'shutdownGraceMs',
    file: 'shutdownGrace',
    group: 'proxy',
    describe: 'On SIGTERM, how long open sessions may continue before they are closed (0-1h)',
    kind: period,
    default: DEFAULTS.shutdownGraceMs,
  }),
  ejectSpreadMs: setting({
    flag: 'eject-spread',
    config: 'ejectSpreadMs',
    file: 'ejectSpread',
    group: 'proxy',
    describe:
      'Sessions of a backend that goes down are closed at random moments up to this long after it last passed a ' +
      'check, so that a fleet\'s reconnects reach the other apiservers spread out; never later, and all at once when ' +
      'detection took longer. Sessions stranded on a backend cut from its etcd are moved over this long after the ' +
      'grace time (0: all at once, up to 10s)',
    kind: duration({ minMs: 0, maxMs: 10 * MS.second }),
    default: DEFAULTS.ejectSpreadMs,
  }),
  rebalance: setting({
    flag: 'rebalance',
    config: 'rebalance',
    file: 'rebalance',
    group: 'proxy',
    describe:
      'When the sessions of the best priority are uneven across its up backends (after a recovery), close one quiet ' +
      'session of the busiest every --rebalance-interval until they are within one; the client redials to the least ' +
      'loaded. Quiet: no bytes either way for --rebalance-quiet, the last ones from the backend. Never in panic',
    kind: boolean(),
    default: DEFAULTS.rebalance,
  }),
  rebalanceIntervalMs: setting({
    flag: 'rebalance-interval',
    config: 'rebalanceIntervalMs',
    file: 'rebalanceInterval',
    group: 'proxy',
    describe: 'Mean time between two sessions this node closes to rebalance, with ±50% jitter (1s-1h)',
    kind: duration({ minMs: MS.second, maxMs: MS.hour }),
    default: DEFAULTS.rebalanceIntervalMs,
  }),
  rebalanceQuietMs: setting({
    flag: 'rebalance-quiet',
    config: 'rebalanceQuietMs',
    file: 'rebalanceQuiet',
    group: 'proxy',
    describe: 'How long a session must have moved no bytes, the last ones from the backend, before it may be closed to rebalance (100ms-10m)',
    kind: duration({ minMs: 100, maxMs: 10 * MS.minute }),
    default: DEFAULTS.rebalanceQuietMs,
  }),
  rebalanceAfterMs: setting({
    flag: 'rebalance-after',
    config: 'rebalanceAfterMs',
    file: 'rebalanceAfter',
    group: 'proxy',
    describe:
      'How long a backend must have been up before rebalancing moves sessions onto it: long enough for the watches on the ' +
      'others to get a bookmark newer than its restart, so that they resume there without a 410 and a relist (0-1h)',
    kind: duration({ minMs: 0, maxMs: MS.hour }),
    default: DEFAULTS.rebalanceAfterMs,
  }),
  healthPath: setting({
    flag: 'health-path',
    config: 'health.path',
    file: 'health.path',
    group: 'health',
    describe: 'Path each check GETs; a pass is 200 with body "ok". /readyz, /livez, /healthz or a sub-check like /readyz/etcd',
    kind: httpPath(),
    default: health.path,
  }),
  healthIntervalMs: setting({
    flag: 'health-interval',
    config: 'health.intervalMs',
    file: 'health.interval',
    group: 'health',
    describe: 'Time between checks of one backend, with ±20% jitter (10ms-1h)',
    kind: duration({ minMs: 10, maxMs: MS.hour }),
    default: health.intervalMs,
  }),
  healthTimeoutMs: setting({
    flag: 'health-timeout',
    config: 'health.timeoutMs',
    file: 'health.timeout',
    group: 'health',
    describe: 'Time allowed for one check before its verdict is unreachable (1ms-1m)',
    kind: timeout,
    default: health.timeoutMs,
  }),
  healthFall: setting({
    flag: 'health-fall',
    config: 'health.fall',
    file: 'health.fall',
    group: 'health',
    describe: 'Consecutive failed checks that take an up backend out of service (1-10)',
    kind: integer({ min: 1, max: 10 }),
    default: health.fall,
  }),
  healthRise: setting({
    flag: 'health-rise',
    config: 'health.rise',
    file: 'health.rise',
    group: 'health',
    describe: 'Consecutive passed checks that put a backend back in service (1-10)',
    kind: integer({ min: 1, max: 10 }),
    default: health.rise,
  }),
  healthScheme: setting({
    flag: 'health-scheme',
    config: 'health.scheme',
    file: 'health.scheme',
    group: 'health',
    describe: 'Protocol of the checks: https (apiservers), http (test servers only)',
    kind: oneOf(HEALTH_SCHEME),
    default: health.scheme,
  }),
  healthAuth: setting({
    flag: 'health-auth',
    config: 'health.auth',
    file: 'health.auth',
    group: 'health',
    describe:
      'Credential the checks present: anonymous; token (needs --health-token-file); client-cert (needs ' +
      '--health-client-cert and --health-client-key); kubeconfig (needs --health-kubeconfig)',
    kind: oneOf(HEALTH_AUTH),
    default: health.auth,
  }),
  healthTokenFile: setting({
    flag: 'health-token-file',
    config: 'health.tokenFile',
    file: 'health.tokenFile',
    group: 'health',
    describe: 'Bearer token file for --health-auth token; re-read when it changes (projected service-account tokens)',
    kind: filePath(),
    default: undefined,
  }),
  healthClientCertFile: setting({
    flag: 'health-client-cert',
    config: 'health.clientCertFile',
    file: 'health.clientCert',
    group: 'health',
    describe: 'PEM client certificate for --health-auth client-cert; re-read when it changes',
    kind: filePath(),
    default: undefined,
  }),
  healthClientKeyFile: setting({
    flag: 'health-client-key',
    config: 'health.clientKeyFile',
    file: 'health.clientKey',
    group: 'health',
    describe: 'PEM private key for --health-auth client-cert; may be the certificate\'s own file (kubelet-client-current.pem holds both)',
    kind: filePath(),
    default: undefined,
  }),
  healthKubeconfigFile: setting({
    flag: 'health-kubeconfig',
    config: 'health.kubeconfigFile',
    file: 'health.kubeconfig',
    group: 'health',
    describe: 'Kubeconfig for --health-auth kubeconfig: its CA, token or client certificate are used (e.g. /etc/kube-local-lb/kubeconfig, ' +
      'made by kubeadm kubeconfig user; kubelet.conf is root\'s, 0600)',
    kind: filePath(),
    default: undefined,
  }),
  healthCaFile: setting({
    flag: 'health-ca-file',
    config: 'health.caFile',
    file: 'health.caFile',
    group: 'health',
    describe: 'PEM CA bundle that backends\' serving certificates must chain to (default: the kubeconfig\'s CA, else the system roots)',
    kind: filePath(),
    default: undefined,
  }),
  healthTlsServerName: setting({
    flag: 'health-tls-server-name',
    config: 'health.tlsServerName',
    file: 'health.tlsServerName',
    group: 'health',
    describe: 'Name the backends\' certificates are verified against; every kubeadm serving certificate holds "kubernetes"',
    kind: hostName(),
    default: health.tlsServerName,
  }),
  healthInsecureSkipVerify: setting({
    flag: 'health-insecure-skip-verify',
    config: 'health.insecureSkipVerify',
    file: 'health.insecureSkipVerify',
    group: 'health',
    describe: 'Do not verify the backends\' certificates in checks (logged as a warning; for tests only)',
    kind: boolean(),
    default: health.insecureSkipVerify,
  }),
  discover: setting({
    flag: 'discover',
    config: 'discovery.enabled',
    file: 'discover',
    group: 'discovery',
    describe:
      'Follow the apiservers from the cluster itself: list and watch EndpointSlice default/kubernetes through the ' +
      'backends, with the health-check credential (it needs list and watch on endpointslices in namespace default), ' +
      'and add the ready endpoints to the --backend seeds. docs/discovery.md',
    kind: boolean(),
    default: DEFAULTS.discovery.enabled,
  }),
  discoverPortOverride: setting({
    flag: 'discover-port-override',
    config: 'discovery.portOverride',
    file: 'discoverPortOverride',
    group: 'discovery',
    describe:
      'Dial every discovered address on this port instead of the advertised one (0: the advertised port). ' +
      'For apiservers that advertise a VIP port or a port nothing listens on at their address',
    kind: integer({ min: 0, max: 65535 }),
    default: DEFAULTS.discovery.portOverride,
  }),
  stateDir: setting({
    flag: 'state-dir',
    config: 'discovery.stateDir',
    file: 'stateDir',
    group: 'discovery',
    describe:
      'Directory where the last good discovered list is kept (discovered-backends.json), and read at start so that a ' +
      'node restarted while every seed is down still knows the other apiservers; "" keeps nothing. Created if missing',
    kind: optionalDirectory(),
    default: '',
  }),
  clusterIp: setting({
    flag: 'cluster-ip',
    config: 'clusterIp.target',
    file: 'clusterIP.address',
    group: 'cluster-ip',
    describe:
      'Serve pods too: hold this ClusterIP of Service default/kubernetes (IP or IP:PORT, port 443 when left out) on ' +
      '--cluster-ip-interface, exempt its traffic from kube-proxy\'s DNAT with an nftables table of its own (notrack) ' +
      'and accept clients on it like on --listen; removed at shutdown. "auto" reads spec.clusterIP through the healthy ' +
      'backends with the health-check credential. Needs root or CAP_NET_ADMIN (and CAP_NET_BIND_SERVICE below port 1024). ' +
      '"" disables it. docs/pods.md',
    kind: clusterIpTarget(),
    default: { ...DEFAULTS.clusterIp.target },
  }),
  clusterIpInterface: setting({
    flag: 'cluster-ip-interface',
    config: 'clusterIp.interface',
    file: 'clusterIP.interface',
    group: 'cluster-ip',
    describe:
      'Interface that holds the --cluster-ip and --cluster-ip-link-local addresses: a dummy device created (and removed) ' +
      'by kube-local-lb when it does not exist, or an existing one such as lo',
    kind: interfaceName(),
    default: DEFAULTS.clusterIp.interface,
  }),
  clusterIpLinkLocal: setting({
    flag: 'cluster-ip-link-local',
    config: 'clusterIp.linkLocal',
    file: 'clusterIP.linkLocal',
    group: 'cluster-ip',
    describe:
      'A link-local IP:PORT (e.g. 169.254.20.11:6443) held and served the same way, for workloads that set ' +
      'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT themselves (where kube-proxy\'s mode makes the ClusterIP ' +
      'impossible to take over); "" for none',
    kind: linkLocalAddress(),
    default: DEFAULTS.clusterIp.linkLocal,
  }),
  adminListen: setting({
    flag: 'admin-listen',
    config: 'adminListen',
    file: 'adminListen',
    group: 'admin',
    describe: 'Address of the admin server (/metrics, /livez, /readyz, /backends), IP:PORT or [IPv6]:PORT; "" disables it; port 0 picks a free port',
    kind: adminAddress(),
    default: { ...DEFAULTS.adminListen },
  }),
  logLevel: setting({
    flag: 'log-level',
    config: 'logLevel',
    file: 'logLevel',
    group: 'admin',
    describe: 'Least severe log level written to stdout',
    kind: oneOf(LOG_LEVELS),
    default: DEFAULTS.logLevel,
  }),
};

/** One row of the table, typed by its value kind: its default and its place in Config must agree. */
function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

/**
 * Every setting an operator can give, flat: one entry per flag, typed by its row in the table.
 * `load.ts` puts each at its row's place in the nested `Config`.
 */
export type Settings = { [K in keyof typeof TABLE]: (typeof TABLE)[K] extends SettingSpec<infer T> ? T : never };

export const SETTINGS: { readonly [K in SettingKey]: SettingSpec<Settings[K]> } = TABLE;

/** `health.intervalMs` -> ['health', 'intervalMs']; `balance` -> [undefined, 'balance']. */
export function splitPath(path: ConfigPath): [section: string | undefined, leaf: string] {
  const dot = path.indexOf('.');
  return dot < 0 ? [undefined, path] : [path.slice(0, dot), path.slice(dot + 1)];
}

/** The keys in the order they appear in help, the file and check-config output. */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The default of setting `key` as help shows it, or undefined when it has none. */
export function defaultText<K extends SettingKey>(key: K): string | undefined {
  const spec = SETTINGS[key];
  return spec.default === undefined ? undefined : spec.kind.show(spec.default);
}

export const ENV_PREFIX = 'KUBE_LOCAL_LB_';

/** `health-interval` -> `KUBE_LOCAL_LB_HEALTH_INTERVAL`. */
export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

/** Where a value came from: the later in this list wins. */
export type Source = 'default' | 'file' | 'env' | 'flag';

/** Values one source gave, each with `where` it was given: `--flag`, `VARIABLE` or `file: key`. */
export type Layer = { [K in SettingKey]?: Given<K> };

/** One value a source gave for setting `K`, and `where`. */
export interface Given<K extends SettingKey> {
  value: Settings[K];
  where: string;
}

/**
 * Stores what a source gave for `key`. TypeScript cannot relate `Layer[K]` to `Given<K>` for a
 * generic K on its own; the view below is the same object, typed per key.
 */
export function setGiven<K extends SettingKey>(layer: Layer, key: K, given: Given<K>): void {
  const view: { [P in K]?: Given<P> } = layer;
  view[key] = given;
}

/** How the operator would name setting `key` in `source`, for messages about another setting. */
export function settingName(key: SettingKey, source: Source): string {
  const spec = SETTINGS[key];
  switch (source) {
    case 'file':
      return spec.file;
    case 'env':
      return envName(spec.flag);
    case 'flag':
    case 'default':
      return `--${spec.flag}`;
  }
}

/** The config file's path: a flag and a variable, but not a key of the file itself. */
export const CONFIG_FLAG = 'config';
