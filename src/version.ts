import { readFileSync } from 'node:fs';

/** The version in package.json, read once at start; "unknown" if the file is not beside dist/. */
function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    // Not fatal: a bundled or relocated build still runs, it only reports an unknown version.
    return 'unknown';
  }
}

export const VERSION = readVersion();
