import { execFile } from 'node:child_process';

/**
 * Runs the kernel tools the interception is made with (`ip`, `nft`), never through a shell: the
 * arguments are addresses and names kube-local-lb validated, passed as they are.
 */

/** A tool that failed: what was run and what it said, on one line. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly missing: boolean,
  ) {
    super(missing ? `${command}: not installed (apt-get install iproute2 nftables)` : `${command}: ${stderr.trim().replace(/\s*\n\s*/g, '; ') || 'failed'}`);
  }
}

export interface RunOptions {
  /** Written to the tool's stdin (an `nft -f -` ruleset). */
  input?: string;
}

/** Runs `file args`; resolves with its stdout, rejects with a CommandError. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout);
        return;
      }
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new CommandError(`${file} ${args.join(' ')}`, stderr || err.message, missing));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
