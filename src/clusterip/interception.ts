import type { Registry } from 'prom-client';
import { formatHostPort } from '../config/address.js';
import type { ClusterIpConfig, HostPort } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { PodListenerRole } from '../proxy/listener-sessions.js';
import { addAddress, createDummy, deleteInterface, hasAddress, interfaceExists, isDummy, removeAddress } from './address.js';
import { InterceptionMetrics, type RepairPart } from './metrics.js';
import { readNodeCase, warnings } from './node-case.js';
import { deleteTable, installTable, readTable, tableIntact, type Interception } from './table.js';

/** How often the addresses and the table are checked, and put back when gone. */
export const REPAIR_INTERVAL_MS = 2000;

export interface InterceptionOptions {
  config: ClusterIpConfig;
  log: Logger;
  registry: Registry;
  /** For `--cluster-ip auto`: asks the cluster for the ClusterIP; rejects when it cannot (retried). */
  resolve: (signal: AbortSignal) => Promise<HostPort>;
  /** Opens a listener on `address`, held by then; called before the table sends traffic to it. */
  listen: (address: HostPort, role: PodListenerRole) => Promise<void>;
  repairIntervalMs?: number;
  /** Delay between `auto` attempts. */
  retryMs?: number;
}

interface Held extends Interception {
  role: PodListenerRole;
}

/**
 * Serves the `kubernetes` ClusterIP (and the link-local address) on this node: holds the
 * addresses on an interface, opens a listener on each, loads the nftables table that exempts
 * their traffic from kube-proxy's DNAT, keeps all of it in place, and removes it at close so that
 * kube-proxy's path takes over again. At start it removes what a killed earlier run left.
 */
export class ClusterIpInterception {
  readonly #o: InterceptionOptions;
  readonly #log: Logger;
  readonly #metrics: InterceptionMetrics;
  readonly #held: Held[] = [];
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #createdInterface = false;
  #started = false;
  #closing: Promise<void> | undefined;
  /** One change at a time: the repair tick, the `auto` install and close never interleave. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: InterceptionOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'cluster-ip' });
    this.#metrics = new InterceptionMetrics(options.registry);
  }

  async start(): Promise<void> {
    this.#started = true;
    const node = await readNodeCase();
    for (const { event, message } of warnings(node)) this.#log.warn({ event, modes: node.modes }, message);
    await this.#removeLeftovers();
    const { target, linkLocal } = this.#o.config;
    const initial: { address: HostPort; role: PodListenerRole }[] = [];
    if (target.kind === 'address') initial.push({ address: target, role: 'cluster-ip' });
    if (linkLocal) initial.push({ address: linkLocal, role: 'link-local' });
    if (initial.length > 0) await this.#install(initial);
    if (target.kind === 'auto') {
      this.#log.info({ event: 'cluster_ip_pending' }, 'cluster IP: reading spec.clusterIP of Service default/kubernetes through the backends');
      void this.#resolveAuto();
    }
    const interval = this.#o.repairIntervalMs ?? REPAIR_INTERVAL_MS;
    this.#timer = setInterval(() => void this.#serial(() => this.#repair()), interval);
    this.#timer.unref();
  }

  /** Removes the table, then the addresses (and the interface it created). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#timer);
    if (!this.#started) return;
    await this.#queue;
    const held = this.#held.splice(0);
    // The table first: from that packet on, new connections take kube-proxy's path again.
    await this.#step('removing the table', () => deleteTable());
    for (const h of held) {
      await this.#step(`removing ${h.host}`, () => removeAddress(h.iface, h.host));
      this.#metrics.addresses.remove({ address: formatHostPort(h), interface: h.iface, role: h.role });
    }
    if (this.#createdInterface) await this.#step(`removing ${this.#o.config.interface}`, () => deleteInterface(this.#o.config.interface));
    this.#metrics.set('removed');
    if (held.length > 0) {
      this.#log.info({ event: 'cluster_ip_removed', addresses: held.map((h) => formatHostPort(h)), interface: this.#o.config.interface },
        `cluster IP interception removed (${held.map((h) => formatHostPort(h)).join(', ')}): kube-proxy's path serves again`);
    }
  }

  /** Runs one teardown step; a failure is logged, and the next step still runs. */
  async #step(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#log.error({ event: 'cluster_ip_cleanup_failed', error: errorText(err) }, `cluster IP: ${what} failed: ${errorText(err)}`);
    }
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #removeLeftovers(): Promise<void> {
    const table = await readTable();
    if (!table) return;
    for (const entry of table.entries) await removeAddress(entry.iface, entry.host).catch(() => undefined);
    await deleteTable();
    for (const iface of new Set(table.entries.filter((e) => e.created).map((e) => e.iface))) {
      if (await isDummy(iface)) await deleteInterface(iface).catch(() => undefined);
    }
    this.#log.warn({ event: 'cluster_ip_leftovers_removed', addresses: table.entries.map((e) => formatHostPort(e)) },
      `cluster IP: removed what an earlier run left (${table.entries.map((e) => formatHostPort(e)).join(', ') || 'an empty table'})`);
  }

  async #install(added: { address: HostPort; role: PodListenerRole }[]): Promise<void> {
    const iface = this.#o.config.interface;
    if (!(await interfaceExists(iface))) {
      await createDummy(iface);
      this.#createdInterface = true;
    }
    for (const { address, role } of added) {
      await addAddress(iface, address.host);
      this.#held.push({ ...address, iface, created: this.#createdInterface, role });
      await this.#o.listen(address, role);
      this.#metrics.addresses.set({ address: formatHostPort(address), interface: iface, role }, 1);
    }
    await installTable(this.#held);
    this.#metrics.set('installed');
    const addresses = this.#held.map((h) => formatHostPort(h));
    this.#log.info({ event: 'cluster_ip_installed', addresses, interface: iface },
      `cluster IP interception installed: ${addresses.join(', ')} on ${iface}, exempt from kube-proxy's DNAT (nftables table inet kube_local_lb)`);
  }

  async #resolveAuto(): Promise<void> {
    const signal = this.#abort.signal;
    let lastError = '';
    while (!signal.aborted) {
      try {
        const address = await this.#o.resolve(signal);
        if (signal.aborted) return;
        this.#log.info({ event: 'cluster_ip_resolved', address: formatHostPort(address) },
          `cluster IP of Service default/kubernetes is ${formatHostPort(address)}`);
        await this.#serial(() => this.#install([{ address, role: 'cluster-ip' }]));
        return;
      } catch (err) {
        if (signal.aborted) return;
        const text = errorText(err);
        if (text !== lastError) {
          this.#log.warn({ event: 'cluster_ip_unresolved', error: text }, `cluster IP: cannot read Service default/kubernetes yet: ${text}`);
          lastError = text;
        }
        await new Promise((resolve) => setTimeout(resolve, this.#o.retryMs ?? 2000).unref());
      }
    }
  }

  /** Puts back whatever went missing; each part found gone is one event and one count. */
  async #repair(): Promise<void> {
    if (this.#closing || this.#held.length === 0) return;
    const broken: RepairPart[] = [];
    const iface = this.#o.config.interface;
    try {
      if (!(await interfaceExists(iface))) {
        broken.push('interface');
        await createDummy(iface);
      }
      for (const h of this.#held) {
        if (await hasAddress(h.iface, h.host)) continue;
        if (!broken.includes('address')) broken.push('address');
        await addAddress(h.iface, h.host);
      }
      if (!(await tableIntact(this.#held))) {
        broken.push('table');
        await installTable(this.#held);
      }
    } catch (err) {
      this.#metrics.set('broken');
      this.#log.error({ event: 'cluster_ip_broken', parts: broken, repaired: false, error: errorText(err) },
        `cluster IP interception broken (${broken.join(', ') || 'check failed'}) and not repaired: ${errorText(err)}`);
      return;
    }
    if (broken.length === 0) return;
    for (const part of broken) this.#metrics.repairs.inc({ part });
    this.#metrics.set('installed');
    this.#log.warn({ event: 'cluster_ip_broken', parts: broken, repaired: true },
      `cluster IP interception found broken (${broken.join(', ')} gone) and repaired`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
