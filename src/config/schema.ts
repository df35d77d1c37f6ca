/**
 * The effective configuration of a running kube-local-lb: what the file, the environment and the
 * flags add up to after validation. Everything downstream (pool, checker, listener, admin) reads
 * only this shape; nothing downstream parses text.
 */

/** A host and port to listen on or dial. `host` is bare: an IPv6 address has no brackets here. */
export interface HostPort {
  host: string;
  port: number;
}

export interface BackendConfig extends HostPort {
  /** `host:port` as the operator wrote it (IPv6 in brackets): the name in logs, metrics and `/backends`. */
  address: string;
  /** Lower is preferred; backends of a worse priority get sessions only when no better one is eligible. */
  priority: number;
  /** Relative share among backends of the same priority (round-robin and random); 1 by default. */
  weight: number;
}

export const BALANCE = ['least-conn', 'round-robin', 'random'] as const;
export type Balance = (typeof BALANCE)[number];

export const REPLAY = ['tls', 'always', 'never'] as const;
export type ReplayPolicy = (typeof REPLAY)[number];

export const HEALTH_AUTH = ['anonymous', 'token', 'client-cert', 'kubeconfig'] as const;
export type HealthAuth = (typeof HEALTH_AUTH)[number];

export const HEALTH_SCHEME = ['https', 'http'] as const;
export type HealthScheme = (typeof HEALTH_SCHEME)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HealthConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  fall: number;
  rise: number;
  scheme: HealthScheme;
  auth: HealthAuth;
  tokenFile: string | undefined;
  clientCertFile: string | undefined;
  clientKeyFile: string | undefined;
  kubeconfigFile: string | undefined;
  caFile: string | undefined;
  tlsServerName: string;
  insecureSkipVerify: boolean;
}

/** Following the apiservers from the cluster itself: EndpointSlice `default/kubernetes`. */
export interface DiscoveryConfig {
  /** Watch the `kubernetes` EndpointSlice through the backends and add what it lists to them. */
  enabled: boolean;
  /** 0: the port each endpoint advertises; else every discovered address is dialled on this port. */
  portOverride: number;
  /** Where the last good discovered list is kept across restarts; '': nowhere. */
  stateDir: string;
}

/** What `--cluster-ip` asks for: nothing, the ClusterIP read from the cluster, or one given. */
export type ClusterIpTarget =
  | { kind: 'none' }
  | { kind: 'auto' }
  | { kind: 'address'; host: string; port: number };

/** Serving Service `default/kubernetes`'s ClusterIP (and a link-local address) to pods. */
export interface ClusterIpConfig {
  target: ClusterIpTarget;
  /** Where the addresses are held: a dummy interface kube-local-lb creates, `lo`, or an existing one. */
  interface: string;
  /** An extra address for workloads that set KUBERNETES_SERVICE_HOST/PORT themselves; null: none. */
  linkLocal: HostPort | null;
}

export interface Config {
  listen: HostPort[];
  backends: BackendConfig[];
  balance: Balance;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  replay: ReplayPolicy;
  /** Client bytes kept for replay until the backend answers; past this the client is not read. */
  replayBufferBytes: number;
  maxConnections: number;
  drainTimeoutMs: number;
  slowStartMs: number;
  shutdownGraceMs: number;
  /** Sessions of a backend that went down are closed by this long after its last good check, at random moments. */
  ejectSpreadMs: number;
  /** Paced rebalancing of long-lived sessions across the backends of the best priority. */
  rebalance: boolean;
  rebalanceIntervalMs: number;
  rebalanceQuietMs: number;
  rebalanceAfterMs: number;
  health: HealthConfig;
  discovery: DiscoveryConfig;
  clusterIp: ClusterIpConfig;
  /** `null`: no admin server. */
  adminListen: HostPort | null;
  logLevel: LogLevel;
  /** The file the config came from, if any: watched for reload. */
  configFile: string | undefined;
}

/** The parts of `Config` that group settings; every other key of it holds one setting, or none. */
type Section = 'health' | 'discovery' | 'clusterIp';

/** Keys of `Config` that no setting gives: fixed, or where the config came from. */
type NotASetting = 'replayBufferBytes' | 'configFile';

/** Where a setting can go in `Config`: a top-level key, or `section.key`. */
export type ConfigPath =
  | Exclude<keyof Config, Section | NotASetting>
  | { [S in Section]: `${S}.${keyof Config[S] & string}` }[Section];

/** The type `Config` holds at `path`. */
export type AtConfigPath<P extends ConfigPath> = P extends `${infer S extends Section}.${infer K}`
  ? K extends keyof Config[S] ? Config[S][K] : never
  : P extends keyof Config ? Config[P] : never;

/** The paths whose type a setting of type `T` can be stored at. */
export type ConfigPathFor<T> = { [P in ConfigPath]: [T] extends [AtConfigPath<P>] ? P : never }[ConfigPath];

export const DEFAULTS = {
  // 6444, not 6443: on a control-plane node kube-apiserver holds *:6443, and kube-proxy's one
  // kubeconfig needs the same address on every node.
  listen: [{ host: '127.0.0.1', port: 6444 }],
  balance: 'least-conn',
  // 1 s: apiservers share the node's network; kubelet's own 30 s would hide a dead one.
  connectTimeoutMs: 1000,
  // 1 s: a healthy apiserver sends its ServerHello within milliseconds; a false timeout only
  // moves the session to another backend.
  firstByteTimeoutMs: 1000,
  replay: 'tls',
  replayBufferBytes: 64 * 1024,
  maxConnections: 20000,
  drainTimeoutMs: 60_000,
  slowStartMs: 10_000,
  shutdownGraceMs: 10_000,
  // 3 s after the last good check: a pinned session leaves a dead apiserver within 3 s of the
  // fault (the fault came after that check), and detection leaves the rest for spreading.
  ejectSpreadMs: 3000,
  // Off until measured without a failed request: the bench's rebalance scenario lost 5 requests
  // in 300 closes on a loaded 2-core machine (a request written in the instant of the close).
  // docs/performance.md.
  rebalance: false,
  // 10 s +-50% per node: 5,000 nodes send a recovered apiserver ~500 redials a second, a tenth
  // of what an all-at-once eject sends each survivor (docs/scale.md).
  rebalanceIntervalMs: 10_000,
  // Longer than a request takes; shorter than the 10 s between a kubelet's lease renewals.
  rebalanceQuietMs: 2000,
  // A restarted apiserver's watch cache starts at its start: a watch resumed there from an older
  // resourceVersion gets 410 and relists. The apiservers the clients stay on send each watch a
  // bookmark about once a minute, which moves its resourceVersion past that start (measured:
  // bench/watch-expired.mjs, docs/scale.md). 75 s: a minute, and room for the bookmark.
  rebalanceAfterMs: 75_000,
  health: {
    path: '/readyz',
    intervalMs: 2000,
    timeoutMs: 1000,
    fall: 2,
    rise: 2,
    scheme: 'https',
    auth: 'anonymous',
    tokenFile: undefined,
    clientCertFile: undefined,
    clientKeyFile: undefined,
    kubeconfigFile: undefined,
    caFile: undefined,
    // Every kubeadm serving certificate holds the name `kubernetes`; none holds 127.0.0.1.
    tlsServerName: 'kubernetes',
    insecureSkipVerify: false,
  },
  discovery: { enabled: false, portOverride: 0, stateDir: '' },
  clusterIp: { target: { kind: 'none' }, interface: 'kube-local-lb0', linkLocal: null },
  adminListen: { host: '127.0.0.1', port: 9445 },
  logLevel: 'info',
} as const satisfies Omit<Config, 'backends' | 'configFile'>;
