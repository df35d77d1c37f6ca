import type net from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What a listener is for: the node's own clients (`listen`) or pods (`cluster-ip`, `link-local`). */
export type ListenerRole = 'listen' | PodListenerRole;

/** The roles of the listeners the ClusterIP interception holds for pods. */
export type PodListenerRole = 'cluster-ip' | 'link-local';

/**
 * Sessions per listener: how many clients come through the loopback address and how many
 * through the ClusterIP. Counted when a session is accepted and when its client socket closes.
 */
export class ListenerSessions {
  readonly #open: Gauge<'listener' | 'role'>;
  readonly #total: Counter<'listener' | 'role'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#open = new Gauge({
      name: 'kube_local_lb_listener_sessions',
      help: 'Sessions open now, by the listener their client connected to and its role (listen, cluster-ip, link-local).',
      labelNames: ['listener', 'role'] as const,
      registers,
    });
    this.#total = new Counter({
      name: 'kube_local_lb_listener_sessions_total',
      help: 'Sessions accepted since start, by listener and role.',
      labelNames: ['listener', 'role'] as const,
      registers,
    });
  }

  /** Shows `listener` with zeros from the moment it listens. */
  opened(listener: string, role: ListenerRole): void {
    this.#open.inc({ listener, role }, 0);
    this.#total.inc({ listener, role }, 0);
  }

  track(listener: string, role: ListenerRole, socket: net.Socket): void {
    const labels = { listener, role };
    this.#open.inc(labels);
    this.#total.inc(labels);
    socket.once('close', () => this.#open.dec(labels));
  }
}
