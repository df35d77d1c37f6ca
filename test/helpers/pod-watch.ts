/**
 * Run inside a test's "pod" network namespace: a @kubernetes/client-node watch of the pods in
 * namespace default through the kubeconfig given, printing one line per event
 * (`ADDED <name>`), as an in-cluster controller would consume them.
 *
 *   node pod-watch.js KUBECONFIG
 */
import { KubeConfig, Watch } from '@kubernetes/client-node';

const kc = new KubeConfig();
kc.loadFromFile(process.argv[2] ?? '');
await new Watch(kc).watch('/api/v1/namespaces/default/pods', {},
  (type: string, obj: { metadata?: { name?: string } }) => process.stdout.write(`${type} ${obj.metadata?.name ?? ''}\n`),
  (err: unknown) => {
    process.stdout.write(`END ${err instanceof Error ? err.message : String(err ?? '')}\n`);
    process.exit(1);
  });
process.stdout.write('WATCHING\n');
