import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SETTINGS, SETTING_KEYS, defaultText, envName } from '../src/config/settings.js';
import { runMain } from './cli-spawn.js';

test('--help on every command explains every flag, its variable and its default', { concurrency: 3 }, async (t) => {
  await Promise.all(
    [['--help'], ['run', '--help'], ['check-config', '--help']].map((args) =>
      t.test(args.join(' '), async () => {
        const result = await runMain(args);
        assert.equal(result.code, 0);
        assert.equal(result.stderr, '');
        // Help is wrapped to the terminal: compare with line breaks and indentation folded.
        const help = result.stdout.replace(/\s+/g, ' ');
        for (const key of SETTING_KEYS) {
          const { flag } = SETTINGS[key];
          assert.ok(help.includes(`--${flag} `), `--${flag} listed`);
          assert.ok(help.includes(envName(flag)), `${envName(flag)} named`);
          const shown = defaultText(key);
          if (shown !== undefined) assert.ok(help.includes(`[default: ${shown}]`), `--${flag} default shown`);
        }
        assert.ok(help.includes('--config '));
        assert.ok(help.includes('HOST:PORT[,priority=N][,weight=N]'));
      }),
    ),
  );
});

test('the top-level help names both commands', async () => {
  const result = await runMain(['--help']);
  assert.match(result.stdout, /kube-local-lb run\s/);
  assert.match(result.stdout, /kube-local-lb check-config\s/);
});

test('--version prints the package version', async () => {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = (manifest as { version: string }).version;
  const result = await runMain(['--version']);
  assert.equal(result.stdout, `${version}\n`);
  assert.equal(result.code, 0);
});
