/**
 * The few DER (X.690 Distinguished Encoding Rules) shapes an X.509 certificate needs. Every
 * function returns one complete TLV (tag, length, value) as a Buffer; composite values are built
 * by passing already encoded children. Nothing here validates semantics: x509.ts decides what to
 * encode, this file only decides how.
 */

/** Universal tag numbers used in certificates (X.680 §8.4). */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** The length octets: short form below 128, else 0x80|n followed by n big-endian bytes. */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with an arbitrary identifier octet. */
export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

/** SEQUENCE of already encoded elements, in the given order. */
export function sequence(...elements: Buffer[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(elements));
}

/** SET OF already encoded elements; DER requires them sorted by their encodings. */
export function set(...elements: Buffer[]): Buffer {
  return tlv(TAG.set, Buffer.concat([...elements].sort(Buffer.compare)));
}

/**
 * INTEGER from unsigned big-endian magnitude bytes (or a small non-negative number). Leading
 * zero bytes are stripped and one is added back when the high bit is set, so the value stays
 * positive and the encoding minimal.
 */
export function integer(value: Buffer | number): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`DER integer: ${value} is not a non-negative safe integer`);
    const hex = value.toString(16);
    bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  } else {
    bytes = value;
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body.length === 0) body = Buffer.from([0]);
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(TAG.integer, body);
}

/** BOOLEAN: DER encodes true as 0xff. */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

/** NULL (the parameters of sha256WithRSAEncryption). */
export function nullValue(): Buffer {
  return tlv(TAG.null, Buffer.alloc(0));
}

/** OBJECT IDENTIFIER from dotted text such as `2.5.4.3`. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new RangeError(`DER oid: "${dotted}" is not a dotted number`);
    return Number(arc);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39)) {
    throw new RangeError(`DER oid: "${dotted}" needs two valid leading arcs`);
  }
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    // Base-128, most significant group first, continuation bit on all but the last group.
    const groups: number[] = [arc % 128];
    for (let rest7 = Math.floor(arc / 128); rest7 > 0; rest7 = Math.floor(rest7 / 128)) groups.unshift((rest7 % 128) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

/** BIT STRING whose length is a whole number of bytes (keys, signatures). */
export function bitString(bytes: Buffer): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([0]), bytes]));
}

/**
 * Named-bit BIT STRING (keyUsage): bit 0 is the most significant bit of the first byte. DER
 * drops trailing zero bits and records how many bits of the last byte are unused.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(TAG.bitString, Buffer.from([0]));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] = (bytes[Math.floor(bit / 8)] ?? 0) | (0x80 >> bit % 8);
  const unused = 7 - (highest % 8);
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** OCTET STRING. */
export function octetString(bytes: Buffer): Buffer {
  return tlv(TAG.octetString, bytes);
}

/** UTF8String (names: CN, O). */
export function utf8String(text: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(text, 'utf8'));
}

/**
 * X.509 Time (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` through 2049, GeneralizedTime
 * `YYYYMMDDHHMMSSZ` from 2050 on. Milliseconds are dropped.
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2025-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(TAG.utcTime, Buffer.from(digits.slice(2), 'ascii'));
  return tlv(TAG.generalizedTime, Buffer.from(digits, 'ascii'));
}

/** `[n]` EXPLICIT: a constructed context tag wrapping one complete TLV. */
export function explicit(tagNumber: number, inner: Buffer): Buffer {
  return tlv(0xa0 | tagNumber, inner);
}

/** `[n]` IMPLICIT primitive: the context tag replaces the universal tag of a primitive value. */
export function implicit(tagNumber: number, value: Buffer): Buffer {
  return tlv(0x80 | tagNumber, value);
}
