import { accessSync, constants, statSync } from 'node:fs';
import { ConfigError } from './config-error.js';

/**
 * Fails unless `path` names a regular file this process can read now. Credentials and CA files
 * are checked when the config is loaded, so that a typo exits 2 with the flag's name instead of
 * surfacing later as failing health checks.
 */
export function assertReadableFile(path: string, where: string): void {
  try {
    if (!statSync(path).isFile()) throw new ConfigError(where, path, 'is not a regular file');
    accessSync(path, constants.R_OK);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(where, path, `cannot be read: ${describeFileError(err)}`);
  }
}

/**
 * Fails when `path` exists and is not a directory this process can write in. A missing one is
 * fine: it is created at the first write (a static pod's hostPath may be made by kubelet later).
 */
export function assertUsableDirectory(path: string, where: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return;
    throw new ConfigError(where, path, `cannot be used: ${describeFileError(err)}`);
  }
  if (!isDirectory) throw new ConfigError(where, path, 'is not a directory');
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError(where, path, `cannot be written: ${describeFileError(err)}`);
  }
}

/** A short reason for a failed file operation, without the stack or the repeated path. */
export function describeFileError(err: unknown): string {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
