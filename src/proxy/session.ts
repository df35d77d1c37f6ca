import net from 'node:net';
import type { Backend, BackendSession } from '../backends/backend.js';
import type { Pool } from '../backends/pool.js';
import type { IdleState } from '../backends/rebalance.js';
import type { Config } from '../config/schema.js';
import { type Reason, reasonOfError } from '../health/verdict.js';
import type { Logger } from '../log.js';
import type { ProxyMetrics } from './metrics.js';
import { adoptAccepted, readInto } from './reader.js';
import { mayReplay } from './replay.js';

/** Why a session ended: the `reason` of session logs. */
export type CloseReason =
  | 'done'
  | 'client_reset'
  | 'client_error'
  | 'backend_reset'
  | 'no_backend'
  | 'backends_failed'
  | 'not_replayable'
  | 'ejected'
  | 'drain_timeout'
  | 'rebalanced'
  | 'shutdown';

export interface SessionContext {
  pool: Pool;
  metrics: ProxyMetrics;
  log: Logger;
  config: () => Config;
  onClosed: (session: Session) => void;
}

// TCP keepalive on both sides: a peer that vanished without a FIN is found by the kernel
// instead of holding a session forever.
const KEEPALIVE_DELAY_MS = 30_000;

type Phase = 'connecting' | 'waiting' | 'established' | 'closed';

/**
 * One proxied client connection: the client socket, the current backend socket, and the client's
 * first bytes kept for replay until the backend sends its first byte. Before that, a refused or
 * timed-out connect, or silence past the first-byte timeout, moves the session to another backend
 * with the same bytes; after it, bytes flow both ways with backpressure, FIN and RST passed through.
 */
export class Session implements BackendSession {
  #phase: Phase = 'connecting';
  #backend: Backend | undefined;
  #upstream: net.Socket | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Held bytes went to a backend that may not see them again: no replay any more. */
  #committed = false;
  #replayable: boolean | undefined;
  #clientEnded = false;
  #timer: NodeJS.Timeout | undefined;
  #waitingSince = 0;
  readonly #tried = new Set<Backend>();
  readonly #acceptedAt = performance.now();
  #flushedUp = 0;
  #flushedDown = 0;
  /** performance.now() of the last bytes from each side once established: the quiet rule's input. */
  #lastClientAt = 0;
  #lastBackendAt = 0;

  readonly client: net.Socket;

  /** `accepted` comes from a `pauseOnConnect` listener; the session reads it from then on. */
  constructor(accepted: net.Socket, private readonly ctx: SessionContext) {
    const onClientData = (chunk: Buffer) => this.#onClientData(chunk);
    const adopted = adoptAccepted(accepted, onClientData, true);
    const client = adopted ?? accepted;
    if (!adopted) {
      client.on('data', onClientData);
      client.resume();
    }
    this.client = client;
    client.on('end', () => this.#onClientEnd());
    client.on('error', (err) => this.#onSocketError(err, client));
    client.on('close', () => this.#onSocketClose(client));
    client.on('drain', () => this.#upstream?.resume());
  }

  get backend(): Backend | undefined {
    return this.#backend;
  }

  start(): void {
    this.#attempt();
  }

  #attempt(): void {
    const backend = this.ctx.pool.pick(this.#tried);
    if (!backend) {
      const reason = this.#tried.size === 0 ? 'no_backend' : 'backends_failed';
      this.ctx.metrics.rejectedConnections.inc({ reason });
      this.close(reason, true);
      return;
    }
    this.#tried.add(backend);
    this.#backend = backend;
    backend.attach(this);
    this.#phase = 'connecting';
    const upstream = net.connect({
      host: backend.host,
      port: backend.port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
      ...readInto((chunk) => upstream === this.#upstream && this.#onUpstreamData(chunk)),
    });
    this.#upstream = upstream;
    upstream.on('connect', () => upstream === this.#upstream && this.#onConnect());
    upstream.on('end', () => upstream === this.#upstream && this.#onUpstreamEnd());
    upstream.on('error', (err) => upstream === this.#upstream && this.#onSocketError(err, upstream));
    upstream.on('close', () => upstream === this.#upstream && this.#onSocketClose(upstream));
    upstream.on('drain', () => upstream === this.#upstream && this.#resumeClient());
    this.#setTimer(this.ctx.config().connectTimeoutMs, 'connect_timeout');
  }

  #setTimer(ms: number, reason: Reason): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fail(reason);
    }, ms);
  }

  #onConnect(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#phase = 'waiting';
    this.ctx.metrics.connectDuration.observe((performance.now() - this.#acceptedAt) / 1000);
    let flowing = true;
    for (const chunk of this.#held) flowing = this.#send(chunk) && flowing;
    if (this.#clientEnded) this.#upstream?.end();
    // A client paused while connecting is read again now, unless the backend must take what was
    // sent first (its 'drain' resumes) or the replay buffer is full.
    if (flowing) this.#resumeClient();
  }

  /** Writes client bytes to a backend that has not answered yet; false when it must drain first. */
  #send(chunk: Buffer): boolean {
    const upstream = this.#upstream;
    if (!upstream) return true;
    const flowing = upstream.write(chunk);
    if (this.#replayable) {
      if (this.#timer === undefined) {
        this.#waitingSince = Date.now();
        this.#setTimer(this.ctx.config().firstByteTimeoutMs, 'first_byte_timeout');
      }
    } else {
      // Not replayable: the bytes are the backend's now, nothing to keep.
      this.#committed = true;
      this.#held = [];
      this.#heldBytes = 0;
    }
    return flowing;
  }

  /** Reads the client again, unless its bytes wait for the backend's answer (replay buffer full). */
  #resumeClient(): void {
    if (this.#phase === 'established' || this.#heldBytes < this.ctx.config().replayBufferBytes) this.client.resume();
  }

  #onClientData(chunk: Buffer): void {
    if (this.#phase === 'established') {
      this.#lastClientAt = performance.now();
      if (this.#upstream && !this.#upstream.write(chunk)) this.client.pause();
      return;
    }
    if (this.#phase === 'closed') return;
    if (this.#replayable === undefined) this.#replayable = mayReplay(this.ctx.config().replay, chunk[0] ?? 0);
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    const flowing = this.#phase === 'waiting' ? this.#send(chunk) : true;
    // Bounded: past the replay buffer the client is not read until the backend answers; bytes
    // that are the backend's already (not replayable) wait only for it to take them.
    if (!flowing || this.#heldBytes >= this.ctx.config().replayBufferBytes) this.client.pause();
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    if (this.#phase === 'established' || this.#phase === 'waiting') {
      const upstream = this.#upstream;
      if (upstream) passFin(upstream);
    }
  }

  #onUpstreamData(chunk: Buffer): void {
    if (this.#phase !== 'established') {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#phase = 'established';
      this.#held = [];
      this.#heldBytes = 0;
      const backend = this.#backend;
      if (backend) {
        this.ctx.pool.reportSuccess(backend);
      }
      this.client.resume();
    }
    this.#lastBackendAt = performance.now();
    if (!this.client.write(chunk)) this.#upstream?.pause();
  }

  #onUpstreamEnd(): void {
    // A backend that closes before sending anything did not serve this session.
    if (this.#phase === 'waiting' && !this.#committed && this.#replayable) return this.#fail('closed');
    passFin(this.client);
  }

  #onSocketError(err: Error, socket: net.Socket): void {
    const reason = reasonOfError(err);
    if (socket === this.client) {
      this.close(reason === 'reset' ? 'client_reset' : 'client_error', true);
      return;
    }
    if (this.#phase === 'connecting' || this.#phase === 'waiting') return this.#fail(reason);
    this.close('backend_reset', reason === 'reset');
  }

  #onSocketClose(socket: net.Socket): void {
    if (this.#phase === 'closed') return;
    if (socket === this.#upstream && (this.#phase === 'connecting' || this.#phase === 'waiting')) {
      if (!this.#committed && this.#replayable !== false) return this.#fail('closed');
    }
    // One side finished cleanly (both directions): the other has its FIN queued; let it flush
    // what it still holds, then close.
    const other = socket === this.client ? this.#upstream : this.client;
    this.#finish('done', () => {
      if (other && !other.destroyed) other.destroySoon();
    });
  }

  /** The current backend did not answer: try another one if the client's bytes allow it. */
  #fail(reason: Reason): void {
    if (this.#phase === 'closed' || this.#phase === 'established') return;
    const backend = this.#backend;
    this.#dropUpstream();
    if (backend) this.ctx.pool.reportFailure(backend, reason);
    if (this.#committed) {
      this.close('not_replayable', true);
      return;
    }
    this.#replay(backend, reason);
  }

  #replay(from: Backend | undefined, reason: Reason): void {
    this.ctx.metrics.replays.inc({ reason });
    const waitedMs = this.#waitingSince ? Date.now() - this.#waitingSince : undefined;
    this.ctx.log.info({ event: 'session_replayed', backend: from?.address, reason, waitedMs, attempt: this.#tried.size },
      `session moved off ${from?.address ?? '?'}: ${reason}`);
    this.#waitingSince = 0;
    this.#attempt();
  }

  /** Gives up the current backend connection (before it answered). */
  #dropUpstream(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const upstream = this.#upstream;
    this.#upstream = undefined;
    if (upstream && !upstream.destroyed) upstream.destroy();
    this.#detach();
  }

  #detach(): void {
    const backend = this.#backend;
    this.#backend = undefined;
    backend?.detach(this);
  }

  onBackendDown(backend: Backend, reason: Reason): void {
    if (backend !== this.#backend) return;
    if (this.#phase === 'established' || this.#committed) {
      // RST, so the client redials in milliseconds instead of waiting for its own timeouts.
      this.close('ejected', true);
      return;
    }
    this.#dropUpstream();
    this.#replay(backend, reason);
  }

  /** Past the backend's first byte, or its bytes are the backend's already: it cannot move by replay. */
  get pinned(): boolean {
    return this.#phase === 'established' || this.#committed;
  }

  /** How long nothing moved, and who sent last: what rebalancing asks before it closes a session. */
  idleState(now = performance.now()): IdleState {
    const established = this.#phase === 'established';
    const last = Math.max(this.#lastClientAt, this.#lastBackendAt);
    const lastFrom = !established || last === 0 ? 'none' : this.#lastBackendAt > this.#lastClientAt ? 'backend' : 'client';
    const pendingBytes = (this.#upstream?.writableLength ?? 0) + this.client.writableLength;
    return { established, idleMs: established && last > 0 ? now - last : 0, lastFrom, pendingBytes };
  }

  /** Closed to move the client to a less loaded backend: a FIN on a quiet connection, it redials. */
  onRebalance(): void {
    this.close('rebalanced', false);
  }

  onDrainTimeout(backend: Backend): void {
    if (backend === this.#backend) this.close('drain_timeout', false);
  }

  /** Adds the bytes moved since the last call to the backend's totals. */
  flushBytes(): void {
    const upstream = this.#upstream;
    const backend = this.#backend;
    if (!upstream || !backend || this.#phase !== 'established') return;
    const up = upstream.bytesWritten;
    const down = upstream.bytesRead;
    backend.addBytes(up - this.#flushedUp, down - this.#flushedDown);
    this.#flushedUp = up;
    this.#flushedDown = down;
  }

  /**
   * Ends the session: timers, the backend's count, and both sockets (RST when `reset`, so the
   * client redials at once). Idempotent.
   */
  close(why: CloseReason, reset: boolean): void {
    this.#finish(why, () => {
      if (this.#upstream) destroy(this.#upstream, reset);
      destroy(this.client, reset);
    });
  }

  #finish(why: CloseReason, closeSockets: () => void): void {
    if (this.#phase === 'closed') return;
    this.flushBytes();
    this.#phase = 'closed';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    closeSockets();
    this.#detach();
    this.#upstream = undefined;
    this.ctx.log.debug({ event: 'session_closed', reason: why }, 'session closed');
    this.ctx.onClosed(this);
  }
}

/**
 * Passes a FIN on to `socket`. When its peer has already sent its own FIN and nothing waits to
 * be written, closing is the same on the wire (FIN) and saves the shutdown() call, once per
 * connection of a fleet that opens thousands a second.
 */
function passFin(socket: net.Socket): void {
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}

function destroy(socket: net.Socket, reset: boolean): void {
  if (socket.destroyed) return;
  // After end() the kernel has its FIN: libuv refuses a reset then (EINVAL), and Node marks the
  // handle closing without closing it, so the descriptor leaked and the process spun at exit.
  if (!reset || socket.writableEnded) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // Not connected yet (or no handle): there is nothing to reset, only to close.
    socket.destroy();
  }
}
