import { spawnSync } from 'node:child_process';

/** Whether `command` is on PATH: the tests drive real kubectl, curl and systemd tools when present. */
export function commandExists(command: string): boolean {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
  return result.status === 0;
}
