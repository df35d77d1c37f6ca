import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network-order bytes of an IP address, as a subjectAltName iPAddress holds them (RFC 5280
 * §4.2.1.6): 4 bytes for IPv4, 16 for IPv6. IPv6 text may use `::` and a trailing dotted IPv4
 * part (`::ffff:10.0.0.1`); a zone (`fe80::1%eth0`) has no place in a certificate and is refused.
 */
export function ipToBytes(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!isIPv6(text) || text.includes('%')) throw new RangeError(`"${text}" is not an IPv4 or IPv6 address`);

  // A dotted IPv4 tail is the last two 16-bit groups written another way: rewrite it as hex.
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [left = '', right] = hex.split('::');
  let groups = parse(left);
  if (right !== undefined) {
    const rightGroups = parse(right);
    groups = [...groups, ...new Array<number>(8 - groups.length - rightGroups.length).fill(0), ...rightGroups];
  }
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(group, i * 2));
  return out;
}
