import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse, type Http2Session } from 'node:http2';
import { TLSSocket } from 'node:tls';

/**
 * One request and its response, the same for HTTP/1.1 and HTTP/2. The compatibility API of
 * node:http2 hands either kind to one handler; this hides the few places where they differ:
 * headers that HTTP/2 forbids, and `Connection: close`, which Go's HTTP/2 server turns into a
 * GOAWAY (x/net/http2 writeChunk) and this imitation does the same.
 */
export class Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
  readonly socket: TLSSocket | null;
  readonly #session: Http2Session | null;
  readonly #headers: Map<string, string> = new Map();
  #closeConnection = false;

  constructor(
    readonly request: IncomingMessage | Http2ServerRequest,
    readonly response: ServerResponse | Http2ServerResponse,
    /** Whether HTTP/1.1 connections close after this response (the server is shutting down). */
    readonly closingHttp1: () => boolean = () => false,
  ) {
    const url = new URL(request.url ?? '/', 'https://apiserver.invalid');
    this.method = request.method ?? 'GET';
    this.path = url.pathname;
    this.query = url.searchParams;
    if (request instanceof Http2ServerRequest) {
      this.protocol = 'HTTP/2';
      this.#session = request.stream.session ?? null;
      const socket = this.#session?.socket;
      this.socket = socket instanceof TLSSocket ? socket : null;
    } else {
      this.protocol = 'HTTP/1.1';
      this.#session = null;
      this.socket = request.socket instanceof TLSSocket ? request.socket : null;
    }
    // WithAuditInit echoes a client-chosen Audit-ID, else makes one.
    const auditId = this.header('audit-id');
    this.setHeader('Audit-Id', auditId && auditId.length > 0 ? auditId : randomUUID());
  }

  /** A request header (first value), lower-case name. */
  header(name: string): string | undefined {
    const value = this.request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }

  /** Sets a response header to be sent with the head. */
  setHeader(name: string, value: string): void {
    this.#headers.set(name, value);
  }

  /** Ask for the connection to end after this response: `Connection: close` or a GOAWAY. */
  closeConnection(): void {
    this.#closeConnection = true;
  }

  /** Whether the client went away or the response was already ended. */
  get finished(): boolean {
    return this.response.writableEnded || this.response.destroyed;
  }

  /** Sends a whole response with Content-Length. */
  send(status: number, headers: Record<string, string>, body: string): void {
    if (this.finished) return;
    const bytes = Buffer.from(body, 'utf8');
    this.#writeHead(status, { ...headers, 'Content-Length': String(bytes.length) });
    this.response.end(bytes);
  }

  /** Sends the head of a streamed response at once (a watch); chunks follow with {@link write}. */
  startStream(status: number, headers: Record<string, string>): void {
    this.#writeHead(status, headers);
    // HTTP/2's writeHead sends HEADERS at once; HTTP/1.1 buffers the head until told.
    const response = this.response;
    if (!(response instanceof Http2ServerResponse)) response.flushHeaders();
  }

  /** Writes one chunk of a streamed response (flushed: node writes it out at once). */
  write(chunk: string): void {
    if (this.finished) return;
    const response = this.response;
    // Two overload sets in a union are not callable as one: narrow first.
    if (response instanceof Http2ServerResponse) response.write(chunk);
    else response.write(chunk);
  }

  /** Ends a streamed response cleanly (last chunk on HTTP/1.1, END_STREAM on HTTP/2). */
  end(): void {
    if (!this.finished) this.response.end();
  }

  #writeHead(status: number, headers: Record<string, string>): void {
    for (const [name, value] of Object.entries(headers)) this.#headers.set(name, value);
    const response = this.response;
    if (this.#closeConnection) {
      // Graceful: the session stops taking new streams and closes when this one is done.
      if (this.#session) this.#session.close();
      else this.#headers.set('Connection', 'close');
    } else if (!this.#session && this.closingHttp1()) {
      // Go's server stops keep-alives once Shutdown began (doKeepAlives false).
      this.#headers.set('Connection', 'close');
    }
    for (const [name, value] of this.#headers) response.setHeader(name, value);
    if (response instanceof Http2ServerResponse) response.writeHead(status);
    else response.writeHead(status);
  }
}
