// Bundles dist/ (the compiled TypeScript) and the runtime dependencies into one CommonJS script,
// the form a Node.js single-executable application runs. Usage: node packaging/bundle.mjs OUT.cjs
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const [out] = process.argv.slice(2);
if (!out) throw new Error('usage: node packaging/bundle.mjs OUT.cjs');
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/**
 * Module-level lookups that only make sense beside a node_modules/ tree are replaced in the
 * bundle: the version, read from package.json at start, becomes a constant; yargs and yaml, loaded
 * through createRequire (yargs for its CommonJS build, yaml only when a command reads YAML),
 * become plain requires that the bundler follows.
 * A source that no longer holds the expected text fails the build rather than a binary at run time.
 */
const replacements = {
  'dist/version.js': [[/^[\s\S]*$/, () => `export const VERSION = ${JSON.stringify(version)};\n`]],
  'dist/cli/index.js': [[/createRequire\(import\.meta\.url\)\('yargs'\)/, () => "require('yargs')"]],
  'dist/lazy-yaml.js': [[/createRequire\(import\.meta\.url\)\('yaml'\)/, () => "require('yaml')"]],
};

const sourcePatches = {
  name: 'source-patches',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/](version|lazy-yaml|cli[\\/]index)\.js$/ }, (args) => {
      const key = Object.keys(replacements).find((k) => args.path.endsWith(k));
      let text = readFileSync(args.path, 'utf8');
      for (const [pattern, make] of replacements[key]) {
        if (!pattern.test(text)) throw new Error(`${key}: expected ${pattern} to patch for the bundle`);
        text = text.replace(pattern, make);
      }
      return { contents: text, loader: 'js' };
    });
  },
};

await build({
  entryPoints: [new URL('../dist/main.js', import.meta.url).pathname],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  // The shebang of main.ts would sit in the middle of the wrapper: the executable needs none.
  banner: { js: '"use strict";' },
  legalComments: 'eof',
  logLevel: 'warning',
  plugins: [sourcePatches],
});
