import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

/**
 * The yaml package, loaded on first use. `run` without a config file or a kubeconfig never parses
 * YAML, and the package is 80 modules (about 2 MB of heap once loaded). On Node the package is
 * CommonJS whether imported or required, so this is the same instance an `import` would give.
 */
export function yaml(): typeof Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return loaded;
}
