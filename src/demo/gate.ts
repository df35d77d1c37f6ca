import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * One accepted TCP connection joined, through a gate, to the stream the TLS server reads. Open,
 * bytes pass both ways untouched. Held, nothing moves in either direction: the socket is not read
 * (the kernel's window fills, as with a SIGSTOPped process) and what the server writes waits in
 * memory. Pausing the TLS socket alone is not enough: TLS reads the TCP handle underneath it.
 */
export class GatedConnection {
  /** The stream handed to the TLS server. */
  readonly inner: Duplex;
  #held: boolean;
  #waiting: Array<{ chunk: Buffer; done: (err?: Error | null) => void } | 'end'> = [];
  #closed = false;

  constructor(
    readonly raw: Socket,
    held: boolean,
    private readonly onClosed: (connection: GatedConnection) => void,
  ) {
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
    // A reset by the client is ordinary here; the TLS socket sees it as a close.
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

  /** Stops all traffic without closing: the connection of a frozen process. */
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

  /** Aborts with a TCP RST, as the kernel does for a killed process's connections. */
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
