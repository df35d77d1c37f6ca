/**
 * Property-based tests of the kubeconfig readers: what a client would use (readClientView, the
 * health checks' and doctor's view) and the rewrite of the kubeconfig command. Whatever the
 * file holds, the answer is a view, a rewrite or a ConfigError naming the file; and no secret
 * in it (token, password, client key) appears in any message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../src/config/config-error.js';
import { readClientView } from '../src/kubeconfig/client.js';
import { parseKubeconfig } from '../src/kubeconfig/document.js';
import { rewriteKubeconfig } from '../src/kubeconfig/rewrite.js';
import { hostileKubeconfig } from './helpers/hostile-kubeconfig.js';
import { DEEP_YAML } from './helpers/hostile-values.js';

const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-kubeconfig-property-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function assertNoSecret(text: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `${what} holds a secret: ${text}`);
}

/** The result of `read`, or its ConfigError, which must name `file` and hold no secret. */
function readOrConfigError<T>(read: () => T, file: string, secrets: readonly string[]): T | ConfigError {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.ok(err.where.startsWith(file) || err.where === '--kubeconfig' || err.where === '--cluster', `the error names ${JSON.stringify(err.where)}: ${err.message}`);
    assertNoSecret(err.message, secrets, 'the error');
    return err;
  }
}

test('readClientView: any kubeconfig gives a view or a ConfigError naming the file, never a secret', () => {
  let n = 0;
  const seen = { refused: 0, accepted: 0 };
  fc.assert(fc.property(hostileKubeconfig, ({ text, secrets }) => {
    const file = join(dir, `client-${n++}.conf`);
    writeFileSync(file, text);
    const view = readOrConfigError(() => readClientView(file, '--kubeconfig'), file, secrets);
    if (view instanceof ConfigError) return void seen.refused++;
    seen.accepted++;
    // What may be shown of a view: everything but the credential's contents.
    const { credential, caPem, ...shown } = view;
    void caPem;
    assertNoSecret(JSON.stringify({ ...shown, credential: credential.kind }), secrets, 'the view');
  }), { numRuns: 400 });
  // The property says nothing unless bad kubeconfigs were met and refused.
  assert.ok(seen.refused > 0, `bad input was refused: ${JSON.stringify(seen)}`);
});

test('rewriteKubeconfig: any kubeconfig is rewritten (reading back as intended) or refused with a ConfigError', () => {
  const seen = { refused: 0, rewritten: 0 };
  fc.assert(fc.property(hostileKubeconfig, fc.constantFrom([], ['prod'], ['kubernetes', 'nope']), ({ text, secrets }, clusters) => {
    const file = '/etc/kubernetes/kubelet.conf';
    const source = readOrConfigError(() => parseKubeconfig(text, file), file, secrets);
    if (source instanceof ConfigError) return void seen.refused++;
    const target = { server: 'https://127.0.0.1:6443', tlsServerName: 'kubernetes', clusters };
    const rewrite = readOrConfigError(() => rewriteKubeconfig(source, target), file, secrets);
    if (rewrite instanceof ConfigError) return void seen.refused++;
    seen.rewritten++;
    assertNoSecret(JSON.stringify(rewrite.changes), secrets, 'the changes');
    // Rewriting the result again changes nothing.
    const again = rewriteKubeconfig(parseKubeconfig(rewrite.text, file), target);
    assert.deepEqual(again.changes, []);
    assert.equal(again.text, rewrite.text);
  }), { numRuns: 400 });
  assert.ok(seen.refused > 0, `bad input was refused: ${JSON.stringify(seen)}`);
});

test('kubeconfigs nested thousands deep are refused by name, every time they are read', () => {
  for (const [shape, text] of Object.entries(DEEP_YAML)) {
    const file = join(dir, `deep-${shape.replace(/ /g, '-')}.conf`);
    writeFileSync(file, text);
    for (let i = 0; i < 6; i++) {
      assert.throws(() => readClientView(file, '--kubeconfig'),
        (err) => err instanceof ConfigError && err.message === `${file}: nests collections more than 64 levels deep: not a kubeconfig`, shape);
    }
  }
});
