/** Polls `probe` until it returns a truthy value or `ms` pass; no fixed sleeps in tests. */
export async function waitUntil<T>(probe: () => T | Promise<T>, what: string, ms = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
