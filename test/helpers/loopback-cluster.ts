import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { type ClusterPki, FakeApiserver, KubernetesEndpoints, LeaseReconciler, PodStore, type RbacObject, makeClusterPki, startFakeApiserver } from '../fake-apiserver/index.js';

/**
 * Fake apiservers as a real control plane lays them out: each on its own address (here a
 * loopback address of its own, 127.X.Y.n), all on one secure port, so that the `kubernetes`
 * EndpointSlice can list them the way the endpoint reconciler does: one address per apiserver,
 * one port. They share the CA, the serving certificate, the pods and the endpoints. A real
 * apiserver refuses loopback addresses in the endpoints; this cluster's endpoints accept them,
 * since loopback is where these imitations live.
 */
export interface LoopbackCluster {
  pki: ClusterPki;
  store: PodStore;
  endpoints: KubernetesEndpoints;
  apiservers: FakeApiserver[];
  /** The secure port every apiserver listens on. */
  port: number;
  dir: string;
  /** Starts one more apiserver, on the next address and the same port. */
  add(): Promise<FakeApiserver>;
  /** Publishes these apiservers (default: all) in EndpointSlice and Endpoints default/kubernetes. */
  advertise(apiservers?: readonly FakeApiserver[], port?: number): void;
  /** The lease reconciler keeping the endpoints, when asked for one. */
  reconciler: LeaseReconciler | undefined;
  file(name: string, content: string): string;
  close(): Promise<void>;
}

/** Options of {@link loopbackCluster}: those of the imitations. */
export interface LoopbackClusterOptions {
  bookmarkIntervalMs?: number;
  servesEndpointSlices?: boolean;
  /** The imitations' start-up phase (default `real`); see FakeApiserverOptions. */
  startup?: 'real' | 'instant';
  /** Who may read the endpoints (e.g. docsDiscoveryRbac()); default: system:masters only. */
  rbac?: readonly RbacObject[];
  /** Run a lease endpoint reconciler (timings in ms) instead of the test setting the endpoints. */
  leaseReconciler?: { intervalMs?: number; ttlMs?: number };
}

export async function loopbackCluster(n: number, o: LoopbackClusterOptions = {}): Promise<LoopbackCluster> {
  const pki = makeClusterPki();
  const store = new PodStore();
  const endpoints = new KubernetesEndpoints(100, 5000, { acceptLoopback: true });
  // A /24 of its own per run, so that test processes running side by side never share an address.
  const prefix = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const apiservers: FakeApiserver[] = [];
  let reconciler: LeaseReconciler | undefined;
  const start = (index: number, port: number): Promise<FakeApiserver> =>
    startFakeApiserver({ name: `apiserver-${index + 1}`, host: `${prefix}.${index + 1}`, port, tls: pki.tls, tokens: pki.tokens, store, endpoints,
      ...(o.bookmarkIntervalMs ? { bookmarkIntervalMs: o.bookmarkIntervalMs } : {}),
      ...(o.servesEndpointSlices === false ? { servesEndpointSlices: false } : {}),
      ...(o.startup ? { startup: o.startup } : {}),
      ...(o.rbac ? { rbac: o.rbac } : {}),
      ...(reconciler ? { reconciler } : {}) });
  // The reconciler publishes the secure port, so it must be known before the first apiserver starts.
  if (o.leaseReconciler) reconciler = new LeaseReconciler(endpoints, await freePort(`${prefix}.1`), o.leaseReconciler);
  const first = await start(0, reconciler?.port ?? 0);
  apiservers.push(first);
  for (let i = 1; i < n; i++) apiservers.push(await start(i, first.port));
  const dir = mkdtempSync(join(tmpdir(), 'klb-discovery-'));
  const cluster: LoopbackCluster = {
    pki,
    store,
    endpoints,
    apiservers,
    port: first.port,
    dir,
    reconciler,
    async add() {
      const apiserver = await start(apiservers.length, first.port);
      apiservers.push(apiserver);
      return apiserver;
    },
    advertise(list = apiservers, port = first.port) {
      endpoints.set(list.map((a) => a.host), port);
    },
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    },
    async close() {
      reconciler?.close();
      await Promise.all(apiservers.map((a) => a.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
