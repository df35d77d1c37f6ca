import net from 'node:net';

/**
 * How sessions read: every socket reads into one shared buffer (`onread`), and the session copies
 * out exactly the bytes it forwards. Node's default read path makes a 64 KiB allocation per read,
 * shrinks it, wraps it in a Buffer and sends it through the Readable stream machinery and a
 * 'data' event; this path skips all of that, about a fifth of the proxy's CPU per request on
 * kept-alive connections (docs/performance.md).
 *
 * One buffer serves every socket because reads are delivered one at a time and the callback
 * copies before returning. The copy is what makes sharing safe: a write that the kernel does not
 * take at once keeps a reference to its Buffer until it is sent, and a socket reads into the
 * buffer it was given at its previous read, so a write straight from the shared buffer could be
 * overwritten by any other socket's next read.
 */
const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/** Called with each chunk read; the chunk is the callee's to keep. */
export type OnChunk = (chunk: Buffer) => void;

function onread(onChunk: OnChunk): net.OnReadOpts {
  return {
    buffer: readBuffer,
    callback: (n: number) => {
      const chunk = Buffer.allocUnsafe(n);
      readBuffer.copy(chunk, 0, 0, n);
      onChunk(chunk);
      // Flow control is the caller's: it pauses and resumes the socket, as with 'data'.
      return true;
    },
  };
}

/** Connect options that make the new socket deliver its bytes to `onChunk` instead of 'data'. */
export function readInto(onChunk: OnChunk): { onread: net.OnReadOpts } {
  return { onread: onread(onChunk) };
}

interface HandleOwner {
  _handle?: unknown;
}

/**
 * Moves a connection accepted by a `pauseOnConnect` server to a socket that delivers its bytes
 * to `onChunk`. Node lets only connecting sockets choose `onread`, so the accepted socket's
 * handle (`_handle`: undocumented, but what `cluster` and `child_process` rely on) is given to a
 * new socket and the old, empty one is closed. Returns null when the connection cannot be moved
 * (already closed, not paused, or a runtime without `_handle`); the caller then reads the
 * accepted socket with 'data'.
 */
export function adoptAccepted(accepted: net.Socket, onChunk: OnChunk, allowHalfOpen: boolean): net.Socket | null {
  const owner = accepted as unknown as HandleOwner;
  const handle = owner._handle;
  if (!handle || accepted.destroyed || !accepted.isPaused()) return null;
  owner._handle = null;
  const options = { handle, allowHalfOpen, readable: true, writable: true, onread: onread(onChunk) };
  const socket = new net.Socket(options as net.SocketConstructorOpts);
  // The old socket has no connection any more: destroying it only drops the server's count.
  accepted.destroy();
  return socket;
}
