import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import {
  bitString, boolean, explicit, implicit, integer, namedBits, nullValue, octetString, oid, sequence, set, time, utf8String,
} from './der.js';
import { childrenOf, readElement } from './der-reader.js';
import { ipToBytes } from './ip-bytes.js';

/** A certificate and its private key, both PEM (the key as PKCS#8 `PRIVATE KEY`). */
export interface CertAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a leaf certificate may be used for; sets extendedKeyUsage. */
export type CertUsage = 'server' | 'client' | 'both';

/** Options of {@link createCa}. */
export interface CaOptions {
  readonly commonName: string;
  readonly validDays: number;
  /** The clock; defaults to now. notBefore is set a few minutes before it. */
  readonly now?: Date;
}

/** Options of {@link issueCert}. */
export interface CertOptions {
  /** Subject CN. For a Kubernetes client certificate this is the user name. */
  readonly commonName: string;
  /** Subject O, one RDN each. For a Kubernetes client certificate these are the groups. */
  readonly organization?: string | readonly string[];
  readonly dnsNames?: readonly string[];
  /** IPv4 or IPv6 text; each becomes an iPAddress subjectAltName. */
  readonly ipAddresses?: readonly string[];
  readonly usage: CertUsage;
  readonly validDays: number;
  readonly now?: Date;
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage bit positions (RFC 5280 §4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

// Same backdate as kubeadm (CertificateBackdate): a node whose clock is a little behind the
// issuer's must not see a certificate that is "not yet valid".
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A self-signed CA: ECDSA P-256 key, basicConstraints CA:TRUE (critical), keyUsage
 * keyCertSign + cRLSign + digitalSignature (critical), subjectKeyIdentifier.
 */
export function createCa(options: CaOptions): CertAndKey {
  checkCommon('createCa', options.commonName, options.validDays);
  const { privateKey, publicKey } = newKeyPair();
  const subject = distinguishedName(options.commonName, []);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = subjectKeyId(spki);
  const extensions = [
    extension(OID.basicConstraints, true, sequence(boolean(true))),
    extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
  ];
  const certDer = signTbs(tbsCertificate(subject, subject, spki, options, extensions, privateKey), privateKey);
  return { certPem: toPem('CERTIFICATE', certDer), keyPem: exportKey(privateKey) };
}

/**
 * A leaf certificate signed by `ca`: a fresh ECDSA P-256 key, basicConstraints CA:FALSE,
 * keyUsage digitalSignature, extendedKeyUsage from `usage`, subjectAltName (DNS and IP),
 * subject and authority key identifiers, a random positive 127-bit serial. Throws a RangeError
 * naming the option when an option is invalid, or when `ca` is not a CA or its key does not
 * match its certificate.
 */
export function issueCert(ca: CertAndKey, options: CertOptions): CertAndKey {
  checkCommon('issueCert', options.commonName, options.validDays);
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  if (!caCert.ca) throw new RangeError(`issueCert: the issuer "${caCert.subject}" is not a CA (basicConstraints CA:FALSE or absent)`);
  if (!caCert.checkPrivateKey(caKey)) throw new RangeError(`issueCert: the CA key does not belong to the CA certificate "${caCert.subject}"`);
  const issuer = readIssuer(caCert);

  const { privateKey, publicKey } = newKeyPair();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const organizations = typeof options.organization === 'string' ? [options.organization] : (options.organization ?? []);
  const subject = distinguishedName(options.commonName, organizations);
  const purposes = { server: [OID.serverAuth], client: [OID.clientAuth], both: [OID.serverAuth, OID.clientAuth] }[options.usage];
  if (!purposes) throw new RangeError(`issueCert: usage ${JSON.stringify(options.usage)} is not one of server, client, both`);

  const altNames = [
    ...(options.dnsNames ?? []).map((name) => {
      if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) throw new RangeError(`issueCert: dnsNames: "${name}" is not a DNS name`);
      return implicit(2, Buffer.from(name, 'ascii'));
    }),
    ...(options.ipAddresses ?? []).map((ip) => implicit(7, ipToBytes(ip))),
  ];
  const extensions = [
    extension(OID.basicConstraints, true, sequence()),
    extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
    extension(OID.extKeyUsage, false, sequence(...purposes.map((p) => oid(p)))),
    extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyId(spki))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, issuer.keyId))),
  ];
  if (altNames.length > 0) extensions.splice(3, 0, extension(OID.subjectAltName, false, sequence(...altNames)));

  const certDer = signTbs(tbsCertificate(issuer.name, subject, spki, options, extensions, caKey), caKey);
  return { certPem: toPem('CERTIFICATE', certDer), keyPem: exportKey(privateKey) };
}

function checkCommon(where: string, commonName: string, validDays: number): void {
  if (typeof commonName !== 'string' || commonName.length === 0) throw new RangeError(`${where}: commonName must be a non-empty string`);
  if (!Number.isFinite(validDays) || validDays <= 0) throw new RangeError(`${where}: validDays: ${validDays} must be a positive number of days`);
}

function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function exportKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Name ::= SEQUENCE OF RDN; one single-valued RDN per O, then CN, as kubeadm's client certs read. */
function distinguishedName(commonName: string, organizations: readonly string[]): Buffer {
  const rdn = (type: string, value: string): Buffer => set(sequence(oid(type), utf8String(value)));
  return sequence(...organizations.map((o) => rdn(OID.organization, o)), rdn(OID.commonName, commonName));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // DER omits a BOOLEAN that equals its DEFAULT, so a non-critical extension has no flag at all.
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
function subjectKeyId(spkiDer: Buffer): Buffer {
  const [, keyBits] = childrenOf(readElement(spkiDer));
  if (!keyBits) throw new RangeError('SubjectPublicKeyInfo without a key');
  return createHash('sha1').update(keyBits.value.subarray(1)).digest();
}

/** The CA's subject Name (raw bytes) and its key identifier (from its SKI, else computed). */
function readIssuer(caCert: X509Certificate): { name: Buffer; keyId: Buffer } {
  const [tbs] = childrenOf(readElement(caCert.raw));
  if (!tbs) throw new RangeError('issueCert: the CA certificate has no TBSCertificate');
  const fields = childrenOf(tbs);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is present for v3
  const name = fields[first + 4];
  if (!name) throw new RangeError('issueCert: the CA certificate has no subject');
  const skiOid = oid(OID.subjectKeyIdentifier);
  for (const field of fields) {
    if (field.tag !== 0xa3) continue;
    const [list] = childrenOf(field);
    for (const ext of list ? childrenOf(list) : []) {
      const parts = childrenOf(ext);
      const value = parts[parts.length - 1];
      if (parts[0]?.raw.equals(skiOid) && value) return { name: name.raw, keyId: readElement(value.value).value };
    }
  }
  return { name: name.raw, keyId: subjectKeyId(caCert.publicKey.export({ type: 'spki', format: 'der' })) };
}

function signatureAlgorithm(key: KeyObject): { algorithm: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': return { algorithm: sequence(oid(OID.ecdsaWithSha256)), hash: 'sha256' };
    case 'rsa': return { algorithm: sequence(oid(OID.sha256WithRsa), nullValue()), hash: 'sha256' };
    case 'ed25519': return { algorithm: sequence(oid(OID.ed25519)), hash: null };
    default: throw new RangeError(`issueCert: CA keys of type ${String(key.asymmetricKeyType)} are not supported (use EC, RSA or Ed25519)`);
  }
}

function tbsCertificate(
  issuer: Buffer, subject: Buffer, spki: Buffer, validity: { validDays: number; now?: Date }, extensions: Buffer[], signer: KeyObject,
): Buffer {
  const now = (validity.now ?? new Date()).getTime();
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f || 0x01; // positive, and 16 bytes so every serial has one length
  return sequence(
    explicit(0, integer(2)), // v3
    integer(serial),
    signatureAlgorithm(signer).algorithm,
    issuer,
    sequence(time(new Date(now - BACKDATE_MS)), time(new Date(now + validity.validDays * DAY_MS))),
    subject,
    spki,
    explicit(3, sequence(...extensions)),
  );
}

function signTbs(tbs: Buffer, key: KeyObject): Buffer {
  const { algorithm, hash } = signatureAlgorithm(key);
  return sequence(tbs, algorithm, bitString(sign(hash, tbs, key)));
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
