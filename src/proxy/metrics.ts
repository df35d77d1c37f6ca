import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ListenerSessions } from './listener-sessions.js';

const P = 'kube_local_lb_';

/** The metrics of the front door and its sessions: refusals, replays, connect time, the limit. */
export class ProxyMetrics {
  readonly replays: Counter<'reason'>;
  readonly rejectedConnections: Counter<'reason'>;
  readonly connectDuration: Histogram;
  readonly maxConnections: Gauge;
  /** Sessions per listener and role (loopback or the ClusterIP). */
  readonly listenerSessions: ListenerSessions;

  constructor(registry: Registry) {
    const registers = [registry];
    this.replays = new Counter({
      name: `${P}replays_total`,
      help: 'Sessions moved to another backend before the first one answered, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.rejectedConnections = new Counter({
      name: `${P}rejected_connections_total`,
      help: 'Client connections closed without a session, by reason.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.connectDuration = new Histogram({
      name: `${P}connect_duration_seconds`,
      help: 'Time from accepting a client to the backend connection being established.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.maxConnections = new Gauge({
      name: `${P}max_connections`,
      help: 'The --max-connections limit: past it new client connections are refused.',
      registers,
    });
    this.listenerSessions = new ListenerSessions(registry);
    // Every reason exported from the start, at 0: an alert on increase() then sees the first
    // rejection (a series that first appears at 1 shows no increase).
    for (const reason of ['no_backend', 'backends_failed', 'max_connections']) this.rejectedConnections.inc({ reason }, 0);
  }
}
