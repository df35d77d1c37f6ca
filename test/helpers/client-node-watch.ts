import { KubeConfig, Watch } from '@kubernetes/client-node';

/**
 * Run inside the test's node namespace: `node client-node-watch.js KUBECONFIG PATH`. Watches PATH
 * with @kubernetes/client-node and rewatches (from the last resourceVersion) whenever the watch
 * ends, as an informer does; one JSON line per event, end and error.
 */
const [kubeconfig, path] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig!);
const log = (event: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ t: Date.now(), event, ...fields }) + '\n');
};
/** An object of a watch event, or the Status of an ERROR event. */
interface WatchObject {
  metadata?: { name?: string; resourceVersion?: string };
  code?: number;
  reason?: string;
  message?: string;
}
let resourceVersion = '';
const watch = async (): Promise<void> => {
  const opts: Record<string, string | boolean> = { allowWatchBookmarks: true };
  if (resourceVersion) opts['resourceVersion'] = resourceVersion;
  let ended = false;
  const again = (why: string, err?: unknown): void => {
    if (ended) return;
    ended = true;
    log('watch-ended', { why, error: err instanceof Error ? err.message : err === undefined ? undefined : String(err) });
    setTimeout(() => void start(), 500);
  };
  await new Watch(kc).watch(path!, opts, (type: string, obj: WatchObject) => {
    if (type === 'ERROR') {
      // A Status, e.g. 410 Expired: the resourceVersion is too old and an informer would relist.
      log('watch-event', { type, code: obj?.code, reason: obj?.reason, message: obj?.message });
      return;
    }
    if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
    log('watch-event', { type, name: obj?.metadata?.name, resourceVersion: obj?.metadata?.resourceVersion });
  }, (err: unknown) => again('done', err));
  log('watch-open', { resourceVersion });
};
const start = async (): Promise<void> => {
  try {
    await watch();
  } catch (err) {
    log('watch-failed', { error: err instanceof Error ? err.message : String(err) });
    setTimeout(() => void start(), 500);
  }
};
void start();
