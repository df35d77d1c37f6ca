// The floor for any proxy written on Node's `net` streams: round robin over the backends,
// 'data' -> write with pause/resume for backpressure, FIN and errors passed on; no health checks,
// no replay, no metrics. `bench/run.sh --node-floor` measures it beside HAProxy and kube-local-lb,
// so that the share of a gap that is the runtime's, not the product's, is measured in the same run.
// usage: node bench/lib/node-pipe.mjs LISTEN_PORT HOST:PORT...
import net from 'node:net';

const [port, ...backends] = process.argv.slice(2);
let next = 0;
net
  .createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const [host, bport] = backends[next++ % backends.length].split(':');
    const upstream = net.connect({ host, port: Number(bport), allowHalfOpen: true, noDelay: true });
    const pipe = (from, to) => {
      from.on('data', (chunk) => {
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => from.resume());
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
