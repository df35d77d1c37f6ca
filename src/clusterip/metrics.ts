import { Counter, Gauge, type Registry } from 'prom-client';

const P = 'kube_local_lb_';

/** The interception's states, in the order they happen. */
export const INTERCEPTION_STATES = [
  // `auto`: waiting for a healthy backend to tell the ClusterIP; kube-proxy's path serves meanwhile.
  'pending',
  // The addresses are held, the table loaded, the listeners open.
  'installed',
  // The last check found an address or the table gone and could not put it back.
  'broken',
  // Shut down: table and addresses removed, kube-proxy's path serves again.
  'removed',
] as const;
export type InterceptionState = (typeof INTERCEPTION_STATES)[number];

export const REPAIR_PARTS = ['address', 'table', 'interface'] as const;
export type RepairPart = (typeof REPAIR_PARTS)[number];

/** The interception's metrics, on the registry the app passes in. */
export class InterceptionMetrics {
  readonly state: Gauge<'state'>;
  readonly repairs: Counter<'part'>;
  readonly addresses: Gauge<'address' | 'interface' | 'role'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.state = new Gauge({
      name: `${P}cluster_ip_interception_state`,
      help: 'State of the ClusterIP interception (--cluster-ip, --cluster-ip-link-local): 1 for the current state, 0 for the others.',
      labelNames: ['state'] as const,
      registers,
    });
    this.repairs = new Counter({
      name: `${P}cluster_ip_repairs_total`,
      help: 'Times a part of the interception (an address, the nftables table, the interface) was found gone and put back.',
      labelNames: ['part'] as const,
      registers,
    });
    this.addresses = new Gauge({
      name: `${P}cluster_ip_address`,
      help: 'Addresses the interception holds and serves (1), by interface and role (cluster-ip, link-local).',
      labelNames: ['address', 'interface', 'role'] as const,
      registers,
    });
    for (const part of REPAIR_PARTS) this.repairs.inc({ part }, 0);
    this.set('pending');
  }

  set(state: InterceptionState): void {
    for (const s of INTERCEPTION_STATES) this.state.set({ state: s }, s === state ? 1 : 0);
  }
}
