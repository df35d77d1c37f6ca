import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterPki, FakeApiserver, PodStore, makeClusterPki, startFakeApiserver } from '../fake-apiserver/index.js';
import type { AnonymousMode, RbacObject } from '../fake-apiserver/index.js';

/** Several fake apiservers of one cluster: one CA, one serving certificate, one etcd (pod store). */
export interface FakeCluster {
  pki: ClusterPki;
  apiservers: FakeApiserver[];
  store: PodStore;
  dir: string;
  /** Writes a file into the cluster's scratch directory and returns its path. */
  file(name: string, content: string): string;
  close(): Promise<void>;
}

export async function fakeCluster(
  n: number,
  o: {
    anonymous?: AnonymousMode; publicInfoViewer?: boolean; pki?: ClusterPki; bookmarkIntervalMs?: number;
    /** The imitations' start-up phase (default `real`: 403, then /readyz 500, then ready); see FakeApiserverOptions. */
    startup?: 'real' | 'instant';
    rbac?: readonly RbacObject[];
  } = {},
): Promise<FakeCluster> {
  const pki = o.pki ?? makeClusterPki();
  const store = new PodStore();
  const apiservers: FakeApiserver[] = [];
  for (let i = 0; i < n; i++) {
    apiservers.push(
      await startFakeApiserver({
        name: `apiserver-${i + 1}`,
        tls: pki.tls,
        tokens: pki.tokens,
        store,
        anonymous: o.anonymous ?? 'on',
        publicInfoViewer: o.publicInfoViewer ?? true,
        ...(o.bookmarkIntervalMs ? { bookmarkIntervalMs: o.bookmarkIntervalMs } : {}),
        ...(o.startup ? { startup: o.startup } : {}),
        ...(o.rbac ? { rbac: o.rbac } : {}),
      }),
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'klb-cluster-'));
  return {
    pki,
    apiservers,
    store,
    dir,
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    },
    async close() {
      await Promise.all(apiservers.map((a) => a.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
