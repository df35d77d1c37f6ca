import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';

/** A port free on `host` right now (for a process that must be told its port before it starts). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
