/**
 * A sample of the property tests' hostile inputs, through the real binary: flags, variables,
 * config files and kubeconfigs. Whatever the input, the process exits 0 (it was valid) or 2
 * with exactly one stderr line, `kube-local-lb: <where>: ...`, naming the flag, variable or
 * file; never a stack trace, never a secret from a kubeconfig. The in-process properties
 * (property-config, property-kubeconfig) try many more inputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { runMain, type CliResult } from './cli-spawn.js';
import { hostileKubeconfig } from './helpers/hostile-kubeconfig.js';
import { hostileConfigText, hostileEnv, hostileFlags, stackLines } from './helpers/hostile-values.js';

const SEED = Number(process.env['PROPERTY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-property-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// An argument or variable cannot hold a NUL: exec refuses it before the binary could.
const noNul = (text: string): string => text.replace(/\0/g, '');

interface Case {
  args: string[];
  env?: Record<string, string>;
  /** What a one-line error must start with (after `kube-local-lb: `): one of these. */
  names: string[];
  secrets?: string[];
  /** Exit codes that mean the input was taken (0), or judged (doctor: 1). */
  accepted?: number[];
}

/** Runs the cases four at a time; each result checked as the file's header says. */
async function check(cases: Case[]): Promise<{ accepted: number; refused: number }> {
  const tally = { accepted: 0, refused: 0 };
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(cases.slice(i, i + 4).map(async (c) => {
      const r: CliResult = await runMain(c.args, { env: c.env ?? {}, cwd: dir, timeoutMs: 20_000 });
      const what = `PROPERTY_SEED=${SEED}: ${JSON.stringify({ args: c.args, env: c.env })} -> ${JSON.stringify(r)}`;
      assert.deepEqual(stackLines(r.stdout + r.stderr), [], `a stack trace (${what})`);
      for (const secret of c.secrets ?? []) assert.ok(!(r.stdout + r.stderr).includes(secret), `a secret in the output (${what})`);
      if (r.code === 2) {
        tally.refused++;
        assert.match(r.stderr, /^kube-local-lb: [^\n]+\n$/, `not exactly one line on stderr (${what})`);
        const line = r.stderr.slice('kube-local-lb: '.length);
        assert.ok(c.names.some((name) => line.startsWith(name)), `the line names none of ${JSON.stringify(c.names)} (${what})`);
      } else {
        tally.accepted++;
        assert.ok((c.accepted ?? [0]).includes(r.code ?? -1), `exit ${r.code} (${what})`);
      }
    }));
  }
  return tally;
}

const CHECK = ['check-config', '--backend', '10.0.0.1:6443', '--admin-listen', ''];

test('flags, variables and config files through the binary: exit 0, or 2 with one line naming the input', async (t) => {
  t.diagnostic(`PROPERTY_SEED=${SEED}`);
  const flagCases: Case[] = fc.sample(hostileFlags, { seed: SEED, numRuns: 6 }).map((flags) => {
    const args = Object.entries(flags).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `--${name}=${noNul(v)}`));
    return { args: [...CHECK, ...args], names: Object.keys(flags).map((name) => `--${name}`) };
  });
  const envCases: Case[] = fc.sample(hostileEnv, { seed: SEED, numRuns: 3 }).map((env) => {
    const clean = Object.fromEntries(Object.entries(env).map(([name, value]) => [name, noNul(value)]));
    // A config file named by KUBE_LOCAL_LB_CONFIG is resolved against the working directory.
    return { args: CHECK, env: clean, names: [...Object.keys(clean), '/'] };
  });
  const fileCases: Case[] = fc.sample(hostileConfigText, { seed: SEED, numRuns: 3 }).map((text, i) => {
    const path = join(dir, `config-${i}.yaml`);
    writeFileSync(path, text);
    return { args: [...CHECK, '--config', path], names: [path] };
  });
  const tally = await check([...flagCases, ...envCases, ...fileCases]);
  t.diagnostic(`${tally.accepted} accepted, ${tally.refused} refused`);
});

test('kubeconfigs through the kubeconfig and doctor commands: exit 0 (or 1), or 2 naming the file; never a secret', async (t) => {
  t.diagnostic(`PROPERTY_SEED=${SEED}`);
  const samples = fc.sample(hostileKubeconfig, { seed: SEED, numRuns: 5 });
  const cases = samples.map(({ text, secrets }, i): Case => {
    const path = join(dir, `kubeconfig-${i}.conf`);
    writeFileSync(path, text);
    // Nothing listens on port 1: doctor finds that (exit 1) once the kubeconfig is read.
    return i % 2 === 0
      ? { args: ['kubeconfig', '--in', path, '--check'], names: [path], secrets }
      : { args: ['doctor', '--kubeconfig', path, '--proxy', '127.0.0.1:1', '--admin', ''], names: [path], secrets, accepted: [0, 1] };
  });
  const tally = await check(cases);
  t.diagnostic(`${tally.accepted} accepted, ${tally.refused} refused`);
});
