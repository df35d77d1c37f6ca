import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * One accepted TCP connection joined to the in-process stream the TLS server reads, through a
 * gate. Open, bytes pass both ways untouched. Held, nothing moves: the socket stops reading (the
 * kernel's receive window fills, as with a SIGSTOPped process) and whatever the server writes
 * (ServerHello, PING ACKs, watch events, FIN) waits in memory. Releasing the gate sends what
 * waited and reads again, as a SIGCONT would. This is how the imitation blackholes existing
 * connections, which pausing a TLS or HTTP/2 socket alone does not do.
 */
export class Link {
  /** The stream handed to the TLS server. */
  readonly inner: Duplex;
  #held = false;
  #waiting: Array<{ chunk: Buffer; done: (err?: Error | null) => void } | 'end'> = [];
  #closed = false;

  constructor(readonly raw: Socket, held: boolean, readonly onClosed: (link: Link) => void) {
    this.#held = held;
    if (held) raw.pause();
    this.inner = new Duplex({
      read: () => {
        if (!this.#held) raw.resume();
      },
      write: (chunk: Buffer, _encoding, done) => {
        if (this.#held) this.#waiting.push({ chunk, done });
        else raw.write(chunk, done);
      },
      final: (done) => {
        if (this.#held) this.#waiting.push('end');
        else raw.end();
        done();
      },
      destroy: (err, done) => {
        raw.destroy();
        done(err);
      },
    });
    // Errors are data here: the inner stream's owner (the TLS socket) sees them as a close.
    this.inner.on('error', () => undefined);
    raw.on('error', () => undefined);
    raw.on('data', (chunk: Buffer) => {
      if (!this.inner.push(chunk)) raw.pause();
    });
    raw.on('end', () => this.inner.push(null));
    raw.on('close', () => {
      this.inner.destroy();
      this.#close();
    });
  }

  /** Stops all traffic on this connection, in both directions, without closing it. */
  hold(): void {
    this.#held = true;
    this.raw.pause();
  }

  /** Sends what waited, then lets traffic flow again. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    for (const item of this.#waiting.splice(0)) {
      if (item === 'end') this.raw.end();
      else this.raw.write(item.chunk, item.done);
    }
    if (!this.inner.readableEnded) this.raw.resume();
  }

  /** Aborts the connection with a TCP RST, as a crashed process's kernel does. */
  reset(): void {
    if (!this.raw.destroyed) this.raw.resetAndDestroy();
  }

  /** Closes the connection with a FIN. */
  destroy(): void {
    this.raw.destroy();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const item of this.#waiting.splice(0)) if (item !== 'end') item.done(new Error('connection closed'));
    this.onClosed(this);
  }
}
