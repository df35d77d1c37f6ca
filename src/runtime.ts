/**
 * V8 settings for a small, long-running process; imported first by main.ts, before the modules
 * that allocate.
 *
 * The young generation is not allowed to grow past its initial size (1 MiB per semi-space;
 * V8 grows it to 8-16 MiB under allocation pressure and seldom gives it back). A proxy's
 * allocations are short-lived copies of chunks and small per-session objects, so a small young
 * generation costs no throughput here, and it keeps a burst of connections from leaving the
 * process 10-15 MB larger for good (docs/performance.md, memory). Node reads the size flags
 * only on its command line, which the Dockerfile, the static pod and the systemd unit do not
 * share with `node dist/main.js` run by hand; the growth factor is read at run time.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
