import { Registry } from 'prom-client';
import { viewOf, type BackendView } from '../admin/document.js';
import { startApp, type App } from '../service/app.js';
import { formatHostPort } from '../config/address.js';
import { loadConfig, type FlagValues } from '../config/load.js';
import type { HostPort } from '../config/schema.js';
import { DemoApiserver, type Fault } from './apiserver.js';
import type { Action } from './commands.js';
import { tappedLogger, type LogRecord } from './log-tap.js';
import { makeDemoPki, SERVER_NAME } from './pki.js';
import { Traffic, type TrafficStats } from './traffic.js';
import { Workspace } from './workspace.js';
import { assertNever } from '../never.js';

export const BACKEND_COUNT = 3;

/**
 * The proxy settings of the demo, as `run` flags, so that they go through the same loading and
 * validation as an operator's: checks every 500 ms (a change shows within a second or two), the
 * cluster CA, and the name every kubeadm serving certificate holds.
 */
const DEMO_FLAGS: FlagValues = {
  'health-interval': '500ms',
  'health-timeout': '400ms',
  'health-tls-server-name': SERVER_NAME,
  // Short enough to watch the ramp after a revive, and the end of a drain.
  'slow-start': '3s',
  'drain-timeout': '30s',
  // An eject resets every session at once, so that each one is seen to move right away; on a
  // fleet the spread (--eject-spread) keeps the nodes' reconnects from landing together.
  'eject-spread': '0s',
  'shutdown-grace': '0s',
};

export interface DemoOptions {
  /** `--listen` as typed: the proxy's address (port 0: any free port). */
  listen: string;
  /** `--admin-listen` as typed; '' disables the admin server. */
  adminListen: string;
  /** How many kubelet-like clients keep a session open through the proxy (a kubectl-like one comes with them). */
  clients: number;
  /** Every log record of the proxy, for the view. */
  onRecord: (record: LogRecord) => void;
}

/** One backend as the demo's table shows it. */
export interface BackendRow {
  /** 1-based, as the user types it. */
  index: number;
  name: string;
  address: string;
  fault: Fault;
  /** What `/backends` says of it; undefined only before the pool knows it. */
  view: BackendView | undefined;
  /** Answers the demo's clients got from it. */
  answered: number;
}

/**
 * The running demo: three apiserver imitations, the proxy in front of them (the real app, as
 * `run` starts it), kubelet-like clients, and the temp directory with the kubeconfig. It owns all
 * of them; {@link Demo.close} stops them in order and deletes the directory.
 */
export class Demo {
  readonly #traffic: Traffic;
  #closing: Promise<void> | undefined;

  private constructor(
    readonly apiservers: readonly DemoApiserver[],
    readonly app: App,
    readonly workspace: Workspace,
    readonly proxy: HostPort,
    traffic: Traffic,
  ) {
    this.#traffic = traffic;
  }

  /**
   * Starts everything. A bad `--listen` or `--admin-listen` throws the ConfigError that `run`
   * would; a port in use rejects with the bind error. Whatever was started is stopped again.
   */
  static async start(options: DemoOptions): Promise<Demo> {
    const flags: FlagValues = { ...DEMO_FLAGS, listen: options.listen, 'admin-listen': options.adminListen };
    const pki = makeDemoPki();
    const apiservers: DemoApiserver[] = [];
    let workspace: Workspace | undefined;
    // The clients count the proxy's replays beside what they saw themselves.
    let traffic: Traffic | undefined;
    const onRecord = (record: LogRecord): void => {
      traffic?.onRecord(record);
      options.onRecord(record);
    };
    try {
      for (let i = 1; i <= BACKEND_COUNT; i++) apiservers.push(await DemoApiserver.start(`apiserver-${i}`, pki));
      workspace = new Workspace(pki);
      // KUBE_LOCAL_LB_* variables are not read: the demo is the same on every machine.
      const config = loadConfig({ ...flags, backend: apiservers.map((a) => a.address), 'health-ca-file': workspace.caFile }, {});
      const app = await startApp(config, { log: tappedLogger(onRecord), registry: new Registry() });
      const proxy = app.listenAddresses[0] ?? config.listen[0] ?? { host: '127.0.0.1', port: 6443 };
      workspace.writeKubeconfig(`https://${formatHostPort(proxy)}`);
      traffic = new Traffic({ proxy, pki, clients: options.clients });
      return new Demo(apiservers, app, workspace, proxy, traffic);
    } catch (err) {
      await Promise.all(apiservers.map((a) => a.close()));
      workspace?.remove();
      throw err;
    }
  }

  get traffic(): TrafficStats {
    return this.#traffic.stats;
  }

  get admin(): HostPort | null {
    return this.app.adminAddress;
  }

  /** The backends in table order, with what the pool and the clients know of each. */
  rows(): BackendRow[] {
    const backends = this.app.pool.backends;
    return this.apiservers.map((apiserver, i) => {
      const backend = backends.find((b) => b.address === apiserver.address);
      return {
        index: i + 1,
        name: apiserver.name,
        address: apiserver.address,
        fault: apiserver.fault,
        view: backend ? viewOf(backend) : undefined,
        answered: this.#traffic.stats.answeredBy.get(apiserver.name) ?? 0,
      };
    });
  }

  /** Does `action` to backend `index` (1-based); resolves with a sentence saying what was done. */
  async act(action: Action, index: number): Promise<string> {
    const apiserver = this.apiservers[index - 1];
    if (!apiserver) return `there is no backend ${index}`;
    const who = `backend ${index} ${apiserver.name} ${apiserver.address}`;
    switch (action) {
      case 'kill':
        apiserver.kill();
        return `${who} killed: listener closed, its connections reset`;
      case 'blackhole':
        await apiserver.blackhole();
        return `${who} blackholed: connects complete, nothing is answered`;
      case 'drain':
        await apiserver.drain();
        return `${who} draining: /readyz answers 500, requests are still served`;
      case 'revive':
        await apiserver.revive();
        return `${who} revived: serving again`;
      default:
        return assertNever(action);
    }
  }

  /** Stops the clients, the proxy and the imitations, then deletes the temp directory. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#traffic.close();
    await this.app.close(0);
    await Promise.all(this.apiservers.map((a) => a.close()));
    this.workspace.remove();
  }
}
