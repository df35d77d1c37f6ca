import { readFileSync } from 'node:fs';
import { parseRbac, type RbacObject } from '../fake-apiserver/index.js';

/**
 * The Role and RoleBinding that docs/discovery.md tells operators to apply (the YAML blocks
 * of its "The credential it needs" section), read from the document itself so that tests and
 * docs cannot drift apart. The binding names the user `kube-local-lb` (the PKI's probe
 * certificate and probeToken).
 */
export function docsDiscoveryRbac(): RbacObject[] {
  return docsRbac('discovery.md');
}

/** The Role and RoleBinding docs/pods.md gives `kube-local-lb` for `--cluster-ip auto`. */
export function docsPodsRbac(): RbacObject[] {
  return docsRbac('pods.md');
}

function docsRbac(file: string): RbacObject[] {
  const doc = readFileSync(new URL(`../../../docs/${file}`, import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').filter((b) => /kind: RoleBinding/.test(b));
  const objects = blocks.flatMap((b) => parseRbac(b));
  if (!objects.some((o) => o.kind === 'Role') || !objects.some((o) => o.kind === 'RoleBinding')) {
    throw new Error(`docs/${file}: no Role and RoleBinding found in its YAML blocks`);
  }
  return objects;
}
