import { once } from 'node:events';
import net from 'node:net';

/**
 * A backend that answers the proxy's health checks (plain HTTP `GET /readyz`, kept alive) and
 * echoes every other connection byte for byte, passing the client's FIN back once all is echoed.
 * Like a TLS server it speaks only after the client, so a session can be replayed until its
 * first echo. Faults are real socket behaviour: a closed listener, reset connections, sockets
 * nobody reads.
 */
export interface EchoBackend {
  name: string;
  address: string;
  port: number;
  /** Every connection reset and the listener closed: connection refused, as a killed process. */
  crash(): Promise<void>;
  /** Connections still complete (kernel backlog); nothing is read or answered any more. */
  blackhole(): void;
  /** Health checks answer 500, as an apiserver in graceful shutdown; sessions go on. */
  drain(): void;
  /** Listening, reading and healthy again. */
  revive(): Promise<void>;
  /** Connections that were echo sessions, since start. */
  readonly sessions: number;
  close(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';

export interface EchoBackendOptions {
  /** Serves a session instead of echoing it: `first` is the client's first chunk, already read. */
  session?: (socket: net.Socket, first: Buffer) => void;
}

export async function echoBackend(name: string, options: EchoBackendOptions = {}): Promise<EchoBackend> {
  const sockets = new Set<net.Socket>();
  let blackholed = false;
  let healthStatus = 200;
  let sessions = 0;

  const answerChecks = (s: net.Socket, first: Buffer): void => {
    let pending = first.toString('latin1');
    const answer = (): void => {
      for (let end = pending.indexOf(HEAD_END); end >= 0; end = pending.indexOf(HEAD_END)) {
        pending = pending.slice(end + HEAD_END.length);
        const body = healthStatus === 200 ? 'ok' : '[-]shutdown failed: reason withheld\nreadyz check failed\n';
        s.write(`HTTP/1.1 ${healthStatus} ${healthStatus === 200 ? 'OK' : 'Internal Server Error'}\r\n` +
          `content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`);
      }
    };
    answer();
    s.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      answer();
    });
    s.on('end', () => s.end());
  };

  const echo = (s: net.Socket, first: Buffer): void => {
    sessions++;
    s.write(first);
    s.on('data', (d: Buffer) => {
      if (!s.write(d)) s.pause();
    });
    s.on('drain', () => {
      if (!blackholed) s.resume();
    });
    s.on('end', () => s.end());
  };

  const serve = (s: net.Socket): void => {
    // A FIN before any byte (a client that gave up at once): closed, as a TLS server does.
    const endEarly = (): void => void s.end();
    s.once('end', endEarly);
    s.once('data', (first: Buffer) => {
      s.off('end', endEarly);
      if (first.subarray(0, 4).toString('latin1') === 'GET ') answerChecks(s, first);
      else if (options.session) {
        sessions++;
        options.session(s, first);
      } else echo(s, first);
    });
    s.resume();
  };

  // Accepted sockets start paused: while blackholed they are never read, as the sockets of a
  // stopped process (the kernel completes the handshake, nobody reads).
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (!blackholed) serve(s);
  });
  const listen = async (port: number): Promise<number> => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  };
  const port = await listen(0);

  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    get sessions() {
      return sessions;
    },
    async crash() {
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
    blackhole() {
      blackholed = true;
      for (const s of sockets) s.pause();
    },
    drain() {
      healthStatus = 500;
    },
    async revive() {
      const wasBlackholed = blackholed;
      blackholed = false;
      healthStatus = 200;
      if (!server.listening) await listen(port);
      if (!wasBlackholed) return;
      // SIGCONT: what the stopped process had accepted is served now, the rest read on.
      for (const s of sockets) {
        if (s.listenerCount('data') === 0) serve(s);
        else s.resume();
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
