import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The test runner starts each file without --expose-gc; the flag set at run time makes `gc`
// available to contexts created afterwards.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage until the heap stops shrinking, then reports memory: what is left is what is
 * held. `arrayBuffers` counts Buffers, so bytes queued in sockets show there.
 */
export function collectGarbage(): NodeJS.MemoryUsage {
  let before = process.memoryUsage();
  for (let i = 0; i < 5; i++) {
    gc();
    const after = process.memoryUsage();
    if (after.heapUsed >= before.heapUsed * 0.99) return after;
    before = after;
  }
  return before;
}

/** File descriptors this process has open now (Linux). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}
