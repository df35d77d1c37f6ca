import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseHostPort } from '../config/address.js';
import { ConfigError } from '../config/config-error.js';
import type { BackendConfig } from '../config/schema.js';
import { isObject } from '../json.js';

/**
 * The last good discovered list, kept in `--state-dir` so that a node restarted while every seed
 * is down still knows the other apiservers. It only ever adds backends that are then checked like
 * any other, and the first answer of a live apiserver replaces it: a stale file costs a few
 * failed checks, never a node stuck on dead addresses (k3s#11349, where the saved list was
 * trusted over the configured server).
 */

export const STATE_FILE = 'discovered-backends.json';

/** The file's shape. `version` lets a later release read or refuse an older file. */
interface StateDocument {
  version: 1;
  /** ISO time of the write. */
  savedAt: string;
  /** Which object the list came from: `endpointslices` or `endpoints`. */
  source: string;
  backends: string[];
}

export type LoadedState =
  | { kind: 'none' }
  | { kind: 'loaded'; backends: BackendConfig[]; savedAt: string; source: string }
  | { kind: 'unusable'; reason: string };

/** Reads the state file in `dir`: nothing there is `none`; a file that cannot be used says why. */
export function loadState(dir: string): LoadedState {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unusable', reason: err instanceof Error ? err.message : String(err) };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { kind: 'unusable', reason: 'not JSON' };
  }
  if (!isObject(document) || document['version'] !== 1 || !Array.isArray(document['backends'])) {
    return { kind: 'unusable', reason: 'not a version 1 state document' };
  }
  const backends: BackendConfig[] = [];
  for (const item of document['backends']) {
    if (typeof item !== 'string') return { kind: 'unusable', reason: `${JSON.stringify(item)} is not HOST:PORT` };
    try {
      const { host, port } = parseHostPort(item, STATE_FILE, { host: 'ip-or-name', allowPortZero: false });
      backends.push({ host, port, address: item, priority: 0, weight: 1 });
    } catch (err) {
      if (err instanceof ConfigError) return { kind: 'unusable', reason: err.message };
      throw err;
    }
  }
  const savedAt = typeof document['savedAt'] === 'string' ? document['savedAt'] : '';
  const source = typeof document['source'] === 'string' ? document['source'] : '';
  return { kind: 'loaded', backends, savedAt, source };
}

/**
 * Writes the list to `dir` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over the old one, so that a crash or power loss leaves the old file or the new
 * one, never half of either. The directory is created if missing.
 */
export async function saveState(dir: string, backends: readonly BackendConfig[], source: string, now: Date): Promise<void> {
  const document: StateDocument = { version: 1, savedAt: now.toISOString(), source, backends: backends.map((b) => b.address) };
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, STATE_FILE);
  const temporary = join(dir, `.${STATE_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temporary, 'wx', 0o644);
    try {
      await file.writeFile(`${JSON.stringify(document, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  // The rename is durable once the directory itself is flushed; where that is not possible the
  // new name still lands with the next flush of the file system.
  try {
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory: the write itself succeeded.
  }
}
