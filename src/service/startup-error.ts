/** Starting failed after the config was accepted (a port in use, say). Exit 1. */
export class StartupError extends Error {
  override readonly name = 'StartupError';

  /** `what`: the step that failed, e.g. `cannot start`; the message is `what: cause's message`. */
  constructor(
    readonly what: string,
    override readonly cause: unknown,
  ) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
