import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CONFIG_ENV } from '../src/config/env.js';
import { SETTINGS, SETTING_KEYS, defaultText, envName } from '../src/config/settings.js';
import { runMain } from './cli-spawn.js';

const DOC = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** The section of the page under the heading that starts with `title`, up to the next one. */
function section(title: string): string {
  const start = DOC.indexOf(`\n## ${title}`);
  assert.ok(start >= 0, `docs/configuration.md has a section "${title}"`);
  const end = DOC.indexOf('\n## ', start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

/** The flags a command's --help lists, with the default it shows (undefined: none). */
async function helpFlags(command: string): Promise<Map<string, string | undefined>> {
  const result = await runMain([command, '--help']);
  assert.equal(result.code, 0);
  const flags = new Map<string, string | undefined>();
  // Help wraps long lines: fold them so that each flag's text is one piece.
  const text = result.stdout.replace(/\n {20,}/g, ' ');
  for (const match of text.matchAll(/^ {2,}(?:-\w, )?--([a-z-]+)\s(.*)$/gm)) {
    const [, flag, rest] = match;
    if (flag === undefined || flag === 'help' || flag === 'version') continue;
    flags.set(flag, /\[default: (.*?)\]/.exec(rest ?? '')?.[1]);
  }
  return flags;
}

test('docs/configuration.md lists every setting with its flag, variable, file key and default', () => {
  const table = section('Settings of `run` and `check-config`');
  assert.match(table, new RegExp(`^\\| \`--config\` \\| \`${CONFIG_ENV}\` \\|`, 'm'));
  for (const key of SETTING_KEYS) {
    const spec = SETTINGS[key];
    const shown = defaultText(key);
    const cell = shown === undefined ? '(none)' : shown === '' ? '`""`' : `\`${shown}\``;
    const row = `| \`--${spec.flag}\` | \`${envName(spec.flag)}\` | \`${spec.file}\` | ${cell} |`;
    assert.ok(table.includes(`\n${row}`), `row for --${spec.flag}: ${row}`);
  }
  const rows = table.split('\n').filter((line) => line.startsWith('| `--'));
  assert.equal(rows.length, SETTING_KEYS.length + 1, 'no row for a setting that does not exist');
});

test('docs/configuration.md lists the flags of demo, kubeconfig and doctor as their --help does', async () => {
  for (const [command, title] of [['demo', '`kube-local-lb demo`'], ['kubeconfig', '`kube-local-lb kubeconfig`'], ['doctor', '`kube-local-lb doctor`']] as const) {
    const table = section(title);
    const flags = await helpFlags(command);
    assert.ok(flags.size > 0, `${command} --help lists flags`);
    for (const [flag, shown] of flags) {
      const row = new RegExp(`^\\| \`--${flag}\` \\| ([^|]+) \\|`, 'm').exec(table);
      assert.ok(row, `${command}: --${flag} is documented`);
      if (shown !== undefined) assert.equal(row[1]?.trim(), `\`${shown}\``, `${command} --${flag}: default`);
    }
    const documented = [...table.matchAll(/^\| `--([a-z-]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.filter((flag) => flag !== undefined && !flags.has(flag)), [], `${command}: no documented flag it lacks`);
  }
});
