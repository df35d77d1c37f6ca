import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built binary, as operators and the benchmark run it (`npx tsc -p tsconfig.json` first). */
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a spawned CLI: this process's, without any KUBE_LOCAL_LB_* or systemd
 * LISTEN_* variable that would change what is tested, plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('KUBE_LOCAL_LB_') && !name.startsWith('LISTEN_')) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs `node dist/main.js ...args` to its end. A process still running after `timeoutMs` is
 * killed and reported as such: a bad value that was accepted would otherwise start serving.
 */
export function runMain(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: cleanEnv(options.env),
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
