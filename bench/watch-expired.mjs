#!/usr/bin/env node
// What a watch resumed on a restarted kube-apiserver gets when its resourceVersion is from before
// the restart and its resource has had no event since: the question behind moving sessions onto
// a recovered apiserver (docs/scale.md). Against the real control plane of test/real-cluster:
// lists a quiet Secret's namespace on apiserver-1, makes unrelated writes, SIGKILLs apiserver-2
// and starts it again, then sends a watch from that resourceVersion straight to it right after it
// is ready and again 15 s later; then holds a watch with bookmarks on apiserver-1 for 70 s and
// prints the bookmarks it got (a client's way to move its resourceVersion on without events).
// usage (root; test/real-cluster/build.sh built; npm run build:test):
//   flock /tmp/klb-real-cluster.lock node bench/watch-expired.mjs [--progress-notify 5s]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: o } = parseArgs({ options: { 'progress-notify': { type: 'string', default: '' } } });
const { realClusterOrSkip, startRealCluster } = await import(pathToFileURL(path.join(REPO, 'dist-test', 'test', 'helpers', 'real-cluster.js')).href);
const { binaries, skip } = realClusterOrSkip();
if (skip) throw new Error(`${skip}: run test/real-cluster/build.sh and npm run build:test`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const c = await startRealCluster(binaries, { reconciler: 'lease', anonymousAuth: true, etcdProgressNotify: o['progress-notify'] });
const raw = (i, url, timeoutMs = 30000) => c.nodeRun('kubectl', [
  '--kubeconfig', c.kubeconfig(`direct-${i}`, `https://${c.apiservers[i].address}`, { token: c.creds.adminToken }),
  '--request-timeout=90s', 'get', '--raw', url], timeoutMs);
const oneLine = (r) => (r.stdout + r.stderr).trim().split('\n')[0]?.slice(0, 240);
try {
  console.log(`etcd --watch-progress-notify-interval: ${o['progress-notify'] || "etcd's default"}`);
  await c.adminKubectl(['create', 'namespace', 'quiet']);
  await c.adminKubectl(['-n', 'quiet', 'create', 'secret', 'generic', 's', '--from-literal=a=b']);
  const rv = JSON.parse((await raw(0, '/api/v1/namespaces/quiet/secrets')).stdout).metadata.resourceVersion;
  console.log(`listed on ${c.apiservers[0].name} at resourceVersion ${rv}`);
  for (let k = 0; k < 10; k++) await c.adminKubectl(['-n', 'default', 'create', 'configmap', `unrelated-${k}`]);
  c.signal(1, 'SIGKILL');
  await c.apiservers[1].proc?.exit;
  await c.startApiserver(1);
  await c.waitReady(1);
  const readyAt = Date.now();
  const watch = (i, from, seconds) => raw(i, `/api/v1/namespaces/quiet/secrets?watch=1&allowWatchBookmarks=true&resourceVersion=${from}&timeoutSeconds=${seconds}`, (seconds + 20) * 1000);
  for (const wait of [0, 15000]) {
    await sleep(wait);
    console.log(`${Math.round((Date.now() - readyAt) / 1000)} s after ${c.apiservers[1].name} was ready, a watch from ${rv} there: ${oneLine(await watch(1, rv, 3))}`);
  }
  const held = await watch(0, rv, 70);
  const marks = held.stdout.split('\n').filter((l) => l.includes('"BOOKMARK"')).map((l) => JSON.parse(l).object.metadata.resourceVersion);
  console.log(`bookmarks from ${c.apiservers[0].name} in 70 s: ${marks.length ? marks.join(', ') : 'none'}`);
  if (marks.length) console.log(`a watch from the last bookmark (${marks.at(-1)}) on ${c.apiservers[1].name}: ${oneLine(await watch(1, marks.at(-1), 3))}`);
} finally {
  await c.stop();
}
