import type { ReplayPolicy } from '../config/schema.js';

// The first byte of a TLS handshake record (ClientHello). A TLS server can act on nothing before
// it has sent its own handshake, so a ClientHello that got no answer can go to another backend.
const TLS_HANDSHAKE = 0x16;

/** Whether a session whose first client byte is `firstByte` may be replayed on another backend. */
export function mayReplay(policy: ReplayPolicy, firstByte: number): boolean {
  switch (policy) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'tls':
      return firstByte === TLS_HANDSHAKE;
  }
}
