import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { describeFileError } from '../config/file-access.js';

/**
 * Writes `text` to `file` so that a reader (kubelet restarting, say) sees the old file or the new
 * one, never half of one: a temp file in the same directory, renamed over the target. The mode of
 * an existing file is kept; a new one is 0600, since kubeconfigs hold credentials.
 */
export function writeAtomically(file: string, text: string, where: string): void {
  let mode = 0o600;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    // No file yet: it is created private.
  }
  const temp = join(dirname(file), `.${basename(file)}.kube-local-lb-${process.pid}`);
  try {
    writeFileSync(temp, text, { mode, flag: 'wx' });
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new ConfigError(where, file, `cannot be written: ${describeFileError(err)}`);
  }
}
