import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { createCa, ipToBytes, issueCert, type CertAndKey } from '../src/pki/index.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const KUBEADM_DNS = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];

const opensslPresent = spawnSync('openssl', ['version']).status === 0;

function pki(): { ca: CertAndKey; server: CertAndKey; client: CertAndKey } {
  const ca = createCa({ commonName: 'kubernetes', validDays: 365 });
  const server = issueCert(ca, {
    commonName: 'kube-apiserver', dnsNames: KUBEADM_DNS, ipAddresses: ['10.96.0.1', '192.168.1.10', 'fd00::10'],
    usage: 'server', validDays: 30,
  });
  const client = issueCert(ca, {
    commonName: 'kubernetes-admin', organization: ['system:masters', 'kubeadm:cluster-admins'], usage: 'client', validDays: 30,
  });
  return { ca, server, client };
}

test('the CA is self-signed, marked CA, and its key matches', () => {
  const now = new Date('2030-06-01T12:00:00Z');
  const ca = createCa({ commonName: 'test-ca', validDays: 10, now });
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.subject, 'CN=test-ca');
  assert.equal(cert.issuer, 'CN=test-ca');
  assert.equal(cert.ca, true);
  assert.ok(cert.checkIssued(cert));
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(ca.keyPem.startsWith('-----BEGIN PRIVATE KEY-----\n'));
  // notBefore five minutes before the clock (kubeadm's backdate), notAfter validDays after it.
  assert.equal(new Date(cert.validFrom).toISOString(), '2030-06-01T11:55:00.000Z');
  assert.equal(new Date(cert.validTo).toISOString(), '2030-06-11T12:00:00.000Z');
});

test('a serving certificate carries the kubeadm SANs, chains to the CA and has serverAuth only', () => {
  const { ca, server } = pki();
  const caCert = new X509Certificate(ca.certPem);
  const cert = new X509Certificate(server.certPem);
  assert.equal(
    cert.subjectAltName,
    'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, '
      + 'IP Address:10.96.0.1, IP Address:192.168.1.10, IP Address:FD00:0:0:0:0:0:0:10',
  );
  assert.equal(cert.subject, 'CN=kube-apiserver');
  assert.equal(cert.issuer, 'CN=kubernetes');
  assert.equal(cert.ca, false);
  assert.ok(cert.checkIssued(caCert));
  assert.ok(cert.verify(caCert.publicKey));
  assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
  assert.equal(cert.checkHost('kubernetes.default.svc'), 'kubernetes.default.svc');
  assert.equal(cert.checkIP('10.96.0.1'), '10.96.0.1');
  assert.equal(cert.checkIP('fd00::10'), 'fd00::10');
  assert.equal(cert.checkIP('127.0.0.1'), undefined, 'kubeadm serving certs have no 127.0.0.1');
  assert.ok(Date.parse(cert.validFrom) < Date.now() - 4 * 60 * 1000, 'notBefore is a little in the past');
});

test('serials are random and positive', () => {
  const { ca } = pki();
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const { certPem } = issueCert(ca, { commonName: `n${i}`, usage: 'client', validDays: 1 });
    const serial = new X509Certificate(certPem).serialNumber;
    assert.match(serial, /^[0-7][0-9A-F]{31}$/, 'sixteen bytes, high bit clear');
    serials.add(serial);
  }
  assert.equal(serials.size, 20);
});

test('a client certificate names the user in CN and the groups in O, with clientAuth', () => {
  const { ca, client } = pki();
  const cert = new X509Certificate(client.certPem);
  assert.equal(cert.subject, 'O=system:masters\nO=kubeadm:cluster-admins\nCN=kubernetes-admin');
  assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
  assert.equal(cert.subjectAltName, undefined);
  assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
  const both = new X509Certificate(issueCert(ca, { commonName: 'x', usage: 'both', validDays: 1, organization: 'g' }).certPem);
  assert.deepEqual(both.keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
  assert.equal(both.subject, 'O=g\nCN=x');
});

test('openssl verifies the chain and reads every extension', (t) => {
  if (!opensslPresent) {
    t.skip('openssl CLI not installed; the node:crypto checks above still ran');
    return;
  }
  const { ca, server, client } = pki();
  const dir = mkdtempSync(join(tmpdir(), 'pki-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const caPath = join(dir, 'ca.crt');
  writeFileSync(caPath, ca.certPem);
  writeFileSync(join(dir, 'server.crt'), server.certPem);
  writeFileSync(join(dir, 'client.crt'), client.certPem);
  const verify = execFileSync('openssl', [
    'verify', '-CAfile', caPath, '-purpose', 'sslserver', join(dir, 'server.crt'),
  ]).toString();
  assert.equal(verify, `${join(dir, 'server.crt')}: OK\n`);
  const verifyClient = execFileSync('openssl', ['verify', '-CAfile', caPath, '-purpose', 'sslclient', join(dir, 'client.crt')]).toString();
  assert.equal(verifyClient, `${join(dir, 'client.crt')}: OK\n`);

  const caText = execFileSync('openssl', ['x509', '-in', caPath, '-noout', '-text']).toString();
  assert.match(caText, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
  assert.match(caText, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign/);
  const text = execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-text']).toString();
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  assert.match(text, /X509v3 Extended Key Usage: ?\n\s+TLS Web Server Authentication\n/);
  assert.match(text, /IP Address:FD00:0:0:0:0:0:0:10/);
  const ski = /X509v3 Subject Key Identifier: ?\n\s+([0-9A-F:]+)/.exec(caText)?.[1];
  const aki = /X509v3 Authority Key Identifier: ?\n\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1];
  assert.ok(ski);
  assert.equal(aki, ski, 'the leaf names its issuer by the CA key identifier');
});

test('a CA made elsewhere (RSA, by openssl) can sign with issueCert', (t) => {
  if (!opensslPresent) {
    t.skip('openssl CLI not installed: no foreign CA to sign with');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pki-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/O=Example/CN=rsa-ca',
    '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'),
  ], { stdio: 'ignore' });
  const ca = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
  const leaf = issueCert(ca, { commonName: 'leaf', dnsNames: ['kubernetes'], usage: 'server', validDays: 1 });
  writeFileSync(join(dir, 'leaf.crt'), leaf.certPem);
  assert.equal(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')]).toString(), `${join(dir, 'leaf.crt')}: OK\n`);
  assert.equal(new X509Certificate(leaf.certPem).issuer, 'O=Example\nCN=rsa-ca');
});

async function tlsServer(t: { after: (fn: () => void) => void }, options: tls.TlsOptions): Promise<number> {
  const server = tls.createServer(options, (socket) => socket.end('hello'));
  server.on('tlsClientError', () => { /* the failing-handshake tests provoke these on purpose */ });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

function connect(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => resolve(socket));
    socket.on('error', reject);
  });
}

test('a real TLS handshake verifies the chain and the server name', async (t) => {
  const { ca, server } = pki();
  const port = await tlsServer(t, { cert: server.certPem, key: server.keyPem });
  const socket = await connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'kubernetes' });
  t.after(() => socket.destroy());
  assert.equal(socket.authorized, true);
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.equal(data.toString(), 'hello');

  await assert.rejects(connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'not-in-sans.example' }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
  // Dialing the IP with no server name checks the IP SANs, which lack 127.0.0.1 (reference §7).
  await assert.rejects(connect({ host: '127.0.0.1', port, ca: ca.certPem }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  const otherCa = createCa({ commonName: 'other', validDays: 1 });
  await assert.rejects(connect({ host: '127.0.0.1', port, ca: otherCa.certPem, servername: 'kubernetes' }), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
});

test('a client certificate passes mutual TLS and its subject reaches the server', async (t) => {
  const { ca, server, client } = pki();
  const seen: string[] = [];
  const srv = tls.createServer(
    { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      seen.push(String(socket.getPeerCertificate().subject.CN));
      socket.end();
    },
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const socket = await connect({
    host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ca: ca.certPem, servername: 'kubernetes',
    cert: client.certPem, key: client.keyPem,
  });
  await once(socket, 'close');
  assert.deepEqual(seen, ['kubernetes-admin']);
});

test('bad options are refused with a sentence naming the option', () => {
  const ca = createCa({ commonName: 'ca', validDays: 1 });
  assert.throws(() => createCa({ commonName: 'ca', validDays: 0 }), { name: 'RangeError', message: 'createCa: validDays: 0 must be a positive number of days' });
  assert.throws(() => issueCert(ca, { commonName: '', usage: 'server', validDays: 1 }), { message: 'issueCert: commonName must be a non-empty string' });
  assert.throws(() => issueCert(ca, { commonName: 'x', ipAddresses: ['10.0.0.300'], usage: 'server', validDays: 1 }), {
    message: '"10.0.0.300" is not an IPv4 or IPv6 address',
  });
  assert.throws(() => issueCert(ca, { commonName: 'x', dnsNames: ['bad name'], usage: 'server', validDays: 1 }), {
    message: 'issueCert: dnsNames: "bad name" is not a DNS name',
  });
  const leaf = issueCert(ca, { commonName: 'leaf', usage: 'server', validDays: 1 });
  assert.throws(() => issueCert(leaf, { commonName: 'x', usage: 'server', validDays: 1 }), {
    message: 'issueCert: the issuer "CN=leaf" is not a CA (basicConstraints CA:FALSE or absent)',
  });
  const other = createCa({ commonName: 'ca', validDays: 1 });
  assert.throws(() => issueCert({ certPem: ca.certPem, keyPem: other.keyPem }, { commonName: 'x', usage: 'server', validDays: 1 }), {
    message: 'issueCert: the CA key does not belong to the CA certificate "CN=ca"',
  });
});

test('IP addresses become network-order bytes', () => {
  assert.equal(ipToBytes('10.96.0.1').toString('hex'), '0a600001');
  assert.equal(ipToBytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipToBytes('::').toString('hex'), '00000000000000000000000000000000');
  assert.equal(ipToBytes('fd00::10').toString('hex'), 'fd000000000000000000000000000010');
  assert.equal(ipToBytes('2001:db8:1:2:3:4:5:6').toString('hex'), '20010db8000100020003000400050006');
  assert.equal(ipToBytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
  assert.equal(ipToBytes('64:ff9b::192.0.2.33').toString('hex'), '0064ff9b0000000000000000c0000221');
  assert.throws(() => ipToBytes('fe80::1%eth0'), RangeError);
  assert.throws(() => ipToBytes('kubernetes'), RangeError);
});
