/**
 * Just enough DER reading to take an issuer's subject name and key identifier out of its
 * certificate, byte for byte: a child certificate's issuer must equal the parent's subject
 * exactly (Go's crypto/x509 compares the raw bytes), so it is copied, never rebuilt from text.
 */

/** One decoded TLV: its identifier octet, its whole encoding and its contents. */
export interface DerElement {
  readonly tag: number;
  /** Tag, length and value, as they appear in the input. */
  readonly raw: Buffer;
  /** The value octets only. */
  readonly value: Buffer;
}

/** Decodes the TLV starting at `offset`; throws a RangeError on truncated or non-DER input. */
export function readElement(input: Buffer, offset = 0): DerElement {
  const tag = input[offset];
  const first = input[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError(`DER: truncated header at offset ${offset}`);
  if ((tag & 0x1f) === 0x1f) throw new RangeError(`DER: high tag numbers are not used in certificates (offset ${offset})`);
  let length = first;
  let headerLength = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError(`DER: unsupported length form at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = input[offset + 2 + i];
      if (byte === undefined) throw new RangeError(`DER: truncated length at offset ${offset}`);
      length = length * 256 + byte;
    }
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw new RangeError(`DER: element at offset ${offset} runs past the end of the input`);
  return { tag, raw: input.subarray(offset, end), value: input.subarray(offset + headerLength, end) };
}

/** The elements inside a constructed element (SEQUENCE, SET, explicit context tag). */
export function childrenOf(element: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = 0; offset < element.value.length; ) {
    const child = readElement(element.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}
