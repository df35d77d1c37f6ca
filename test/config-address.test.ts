import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, formatHostPort, isDnsName, parseHostPort, type AddressRules } from '../src/config/address.js';
import { ConfigError } from '../src/config/config-error.js';

const BACKEND: AddressRules = { host: 'ip-or-name', allowPortZero: false };
const LISTEN: AddressRules = { host: 'ip', allowPortZero: true };

function refusal(text: string, rules: AddressRules): string {
  try {
    parseHostPort(text, '--backend', rules);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError for ${text}`);
    return err.message;
  }
  assert.fail(`${text} was accepted`);
}

test('backend addresses: IPv4, bracketed IPv6 and DNS names', () => {
  const cases: Array<[string, string, number]> = [
    ['10.0.0.1:6443', '10.0.0.1', 6443],
    ['[::1]:6443', '::1', 6443],
    ['[fd00:10::2]:443', 'fd00:10::2', 443],
    ['[fe80::1%eth0]:6443', 'fe80::1%eth0', 6443],
    ['kubernetes:6443', 'kubernetes', 6443],
    ['cp-1.example.com:6443', 'cp-1.example.com', 6443],
    ['CP.Example.COM.:1', 'CP.Example.COM.', 1],
    ['127.0.0.1:65535', '127.0.0.1', 65535],
  ];
  for (const [text, host, port] of cases) assert.deepEqual(parseHostPort(text, '--backend', BACKEND), { host, port }, text);
});

test('listen addresses are IP literals and may use port 0', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:0', '--listen', LISTEN), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseHostPort('[::]:6443', '--listen', LISTEN), { host: '::', port: 6443 });
  assert.throws(() => parseHostPort('localhost:6443', '--listen', LISTEN), {
    message: '--listen: "localhost:6443" is not an IP address and port (e.g. 127.0.0.1:6444, [::1]:6444)',
  });
});

test('each malformed address is refused with the reason', () => {
  const cases: Array<[string, string]> = [
    ['10.0.0.1', 'has no port (HOST:PORT, e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['cp.example.com', 'has no port (HOST:PORT, e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['10.0.0.1:', 'has an invalid port (expected 1-65535)'],
    ['10.0.0.1:0', 'has an invalid port (expected 1-65535)'],
    ['10.0.0.1:65536', 'has an invalid port (expected 1-65535)'],
    ['10.0.0.1:-1', 'has an invalid port (expected 1-65535)'],
    ['10.0.0.1:https', 'has an invalid port (expected 1-65535)'],
    ['10.0.0.1:64 43', 'has an invalid port (expected 1-65535)'],
    [':6443', 'has no host (HOST:PORT, e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['::1:6443', 'needs brackets around the IPv6 address, e.g. [::1]:6443'],
    ['::1', 'needs brackets around the IPv6 address, e.g. [::1]:6443'],
    ['[::1]', 'has no port (HOST:PORT, e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['[::1:6443', 'has no closing bracket (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['[::1]6443', 'is not HOST:PORT (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['[10.0.0.1]:6443', 'has an invalid IPv6 address in brackets (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['10.0.0.256:6443', 'has an invalid host (expected an IPv4 address, [IPv6] or DNS name)'],
    ['bad_name:6443', 'has an invalid host (expected an IPv4 address, [IPv6] or DNS name)'],
    ['-cp.example.com:6443', 'has an invalid host (expected an IPv4 address, [IPv6] or DNS name)'],
    ['https://cp:6443', 'is a URL, not HOST:PORT (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
    ['a:b:6443', 'is not HOST:PORT (e.g. 10.0.0.1:6443, [fd00::1]:6443, cp.example.com:6443)'],
  ];
  for (const [text, expected] of cases) {
    assert.equal(refusal(text, BACKEND), `--backend: ${JSON.stringify(text)} ${expected}`, text);
  }
});

test('DNS names follow RFC 1123', () => {
  assert.ok(isDnsName('kubernetes'));
  assert.ok(isDnsName('a.b-c.d'));
  assert.ok(isDnsName(`${'a'.repeat(63)}.com`));
  assert.ok(!isDnsName(`${'a'.repeat(64)}.com`));
  assert.ok(!isDnsName('a..b'));
  assert.ok(!isDnsName('a-.b'));
  assert.ok(!isDnsName('1.2.3.4'));
  assert.ok(!isDnsName(''));
});

test('addresses format with brackets and compare in canonical form', () => {
  assert.equal(formatHostPort({ host: '::1', port: 6443 }), '[::1]:6443');
  assert.equal(formatHostPort({ host: '10.0.0.1', port: 6443 }), '10.0.0.1:6443');
  assert.equal(addressKey({ host: '0:0::1', port: 1 }), addressKey({ host: '::1', port: 1 }));
  assert.equal(addressKey({ host: 'CP.example.com.', port: 1 }), addressKey({ host: 'cp.example.com', port: 1 }));
  assert.notEqual(addressKey({ host: '::1', port: 1 }), addressKey({ host: '::1', port: 2 }));
});
