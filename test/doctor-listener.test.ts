import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listenerFindings, listenerOwners } from '../src/doctor/listener-owner.js';
import { cleanEnv, runMain } from './cli-spawn.js';
import { childLines } from './helpers/child-lines.js';

test('doctor pointed at a port a kube-apiserver holds warns that it is not the proxy', async (t) => {
  // A process whose command name is kube-apiserver (node under that name), listening on loopback.
  const dir = mkdtempSync(join(tmpdir(), `klb-doctor-apiserver-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = join(dir, 'kube-apiserver');
  symlinkSync(process.execPath, fake);
  const child = spawn(fake, ['-e', "const s = require('net').createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => console.log(s.address().port))"],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const port = Number((await childLines(child.stdout).waitFor(/^\d+$/))[0]);
  const owners = listenerOwners({ host: '127.0.0.1', port });
  assert.deepEqual(owners.map((o) => o.name), ['kube-apiserver']);
  assert.equal(owners[0]?.pid, child.pid);

  const result = await runMain(['doctor', '--proxy', `127.0.0.1:${port}`, '--admin', '']);
  const first = result.stdout.split('\n')[0] ?? '';
  assert.equal(first, `warn    127.0.0.1:${port} is kube-apiserver's own port (pid ${child.pid}), not kube-local-lb: what follows is the ` +
    'local apiserver, not the path through the proxy; fix: pass the proxy\'s listen address, --proxy 127.0.0.1:6444 (the default), ' +
    'or the listen of its config.yaml');
});

test('no warning for kube-local-lb itself, for systemd holding its socket, or for a port nobody holds', () => {
  const at = { host: '127.0.0.1', port: 6444 };
  assert.deepEqual(listenerFindings(at, [{ pid: 1, name: 'systemd' }, { pid: 7, name: 'kube-local-lb' }]), []);
  assert.deepEqual(listenerFindings(at, [{ pid: 7, name: 'node' }]), []);
  assert.deepEqual(listenerFindings(at, []), []);
  assert.equal(listenerFindings(at, [{ pid: 9, name: 'kube-apiserver' }])[0]?.level, 'warn');
});
