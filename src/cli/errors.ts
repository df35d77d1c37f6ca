/**
 * The ways a command fails that `main.ts` reports on one line. A ConfigError (config/) is one
 * more: a bad value. Anything else is a bug and keeps its stack.
 */

/** The command line itself is wrong: unknown flag or command, a flag without its value. Exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A command could not get what it reads (the admin endpoint of `status` does not answer). The
 * message says what was tried and what to check. Exit 1.
 */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}
