import { once } from 'node:events';
import net from 'node:net';

/**
 * One client connection through the proxy, kept open and asked again and again (HTTP/1.1
 * keep-alive, one request at a time): a long-lived session, like kubelet's watch connection.
 * Written on a bare socket so that the test sees exactly when the proxy closes it.
 */
export interface HeldSession {
  socket: net.Socket;
  /** Sends `GET path` on this connection; resolves with the name of the httpBackend that answered (`x-backend`). */
  ask(path?: string, ms?: number): Promise<string>;
  /** Resolves when the connection has closed, by either side. */
  closed: Promise<void>;
  close(): void;
}

export async function holdSession(port: number, host = '127.0.0.1'): Promise<HeldSession> {
  const socket = net.connect(port, host);
  socket.on('error', () => undefined);
  // Not events.once: it would reject on the socket's 'error' (a reset), and close follows anyway.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await once(socket, 'connect');
  let buffer = Buffer.alloc(0);
  let pending: { resolve: (body: string) => void; reject: (err: Error) => void } | undefined;
  const settle = (): void => {
    const end = buffer.indexOf('\r\n\r\n');
    if (!pending || end < 0) return;
    const head = buffer.subarray(0, end).toString('latin1');
    let next: number;
    if (/^transfer-encoding: *chunked/im.test(head)) {
      // The last chunk has size 0: the answer ends at the first `0\r\n\r\n` after the head.
      const last = buffer.indexOf('0\r\n\r\n', end + 4);
      if (last < 0) return;
      next = last + 5;
    } else {
      next = end + 4 + Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0);
      if (buffer.length < next) return;
    }
    buffer = buffer.subarray(next);
    const { resolve } = pending;
    pending = undefined;
    resolve(/^x-backend: *(.*)$/im.exec(head)?.[1]?.trim() ?? '');
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    settle();
  });
  socket.on('close', () => pending?.reject(new Error('the connection closed before the answer')));
  return {
    socket,
    closed,
    ask(path = '/', ms = 5000) {
      if (pending) return Promise.reject(new Error('one request at a time'));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to GET ${path} within ${ms} ms`)), ms);
        pending = {
          resolve: (body) => {
            clearTimeout(timer);
            resolve(body);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        socket.write(`GET ${path} HTTP/1.1\r\nHost: kubernetes\r\n\r\n`);
      });
    },
    close: () => socket.destroy(),
  };
}

/** Resolves with how a connect to `port` ended: 'connected' or the error code (ECONNREFUSED). */
export async function connectOutcome(port: number, host = '127.0.0.1'): Promise<string> {
  const socket = net.connect(port, host);
  try {
    await once(socket, 'connect');
    return 'connected';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    socket.destroy();
  }
}
