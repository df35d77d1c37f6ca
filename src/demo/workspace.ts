import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoKubeconfig } from './kubeconfig.js';
import type { DemoPki } from './pki.js';

/** The demo's files, in a private temp directory that {@link Workspace.remove} deletes. */
export class Workspace {
  readonly dir: string;
  /** The cluster CA, PEM: for curl's --cacert and the proxy's health checks. */
  readonly caFile: string;
  /** A kubeconfig that reaches the apiservers through the proxy, once {@link writeKubeconfig} ran. */
  readonly kubeconfigFile: string;
  #removed = false;

  constructor(private readonly pki: DemoPki) {
    // mkdtemp makes the directory 0700: the client key written here is for this user only.
    this.dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-demo-'));
    this.caFile = join(this.dir, 'ca.crt');
    this.kubeconfigFile = join(this.dir, 'kubeconfig');
    writeFileSync(this.caFile, pki.ca.certPem, { mode: 0o644 });
  }

  /** Writes the kubeconfig for the proxy at `proxyUrl` (known once the proxy listens). */
  writeKubeconfig(proxyUrl: string): void {
    writeFileSync(this.kubeconfigFile, demoKubeconfig(proxyUrl, this.pki), { mode: 0o600 });
  }

  /** Deletes the directory and everything in it. Idempotent. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
