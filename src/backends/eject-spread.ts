/**
 * When a backend goes down, its pinned sessions are closed at random moments over a short window
 * instead of all at once, so that the reconnects of a fleet reach the surviving apiservers spread
 * out. The window ends `spreadMs` after the backend was last seen working (its last good check):
 * the fault came after that moment, so every session still leaves the dead backend within
 * `spreadMs` of the fault. Detection eats into the window; when it took longer than `spreadMs`,
 * everything is closed at once. Pure: the clock and the random source are passed in.
 */
export function ejectDelays(o: {
  count: number;
  now: number;
  /** When the backend last passed a check or answered a session; undefined: never. */
  lastGoodAt: number | undefined;
  spreadMs: number;
  random: () => number;
}): number[] {
  const windowMs = ejectWindowMs(o.now, o.lastGoodAt, o.spreadMs);
  const delays: number[] = [];
  for (let i = 0; i < o.count; i++) delays.push(windowMs === 0 ? 0 : Math.floor(o.random() * windowMs));
  return delays;
}

/** Milliseconds left from `now` until the last close is due; 0: close everything now. */
export function ejectWindowMs(now: number, lastGoodAt: number | undefined, spreadMs: number): number {
  if (lastGoodAt === undefined || spreadMs <= 0) return 0;
  return Math.max(0, Math.floor(lastGoodAt + spreadMs - now));
}
