import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** The lines a child process writes to one stream, and a wait for a line that matches. */
export interface ChildLines {
  readonly lines: string[];
  /** Resolves with the first line (past or future) matching `pattern`; rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

export function childLines(stream: Readable): ChildLines {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: stream }).on('line', (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) waiter();
  });
  return {
    lines,
    waitFor(pattern, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const look = (): boolean => {
          for (const line of lines) {
            const match = pattern.exec(line);
            if (match) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(match);
              return true;
            }
          }
          return false;
        };
        const check = (): void => void look();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${pattern} within ${ms} ms; got:\n${lines.slice(-40).join('\n')}`));
        }, ms);
        if (!look()) waiters.add(check);
      });
    },
  };
}

/** Resolves with how `child` ended; rejects if it has not ended within `ms`. */
export async function exitOf(child: ChildProcess, ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    return { code, signal };
  } finally {
    clearTimeout(timer);
  }
}
