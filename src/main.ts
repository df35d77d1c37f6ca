#!/usr/bin/env node
/**
 * The process entry: the one place that sets the exit code, exits and handles signals.
 * Exit codes: 0 stopped cleanly (or a command finished); 1 failed to start or stop, forced by a
 * second signal, or a command found a problem or could not read what it needs (status, doctor);
 * 2 invalid command line or configuration. Failures are one line on stderr,
 * `kube-local-lb: <message>`, never a stack: an operator reads it in `journalctl` or
 * `kubectl logs --previous`.
 */
import './runtime.js';
import { ConfigError } from './config/config-error.js';
import { runCli } from './cli/index.js';
import { CommandFailed, UsageError } from './cli/errors.js';
import type { Service } from './service/service.js';
import { StartupError } from './service/startup-error.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function report(message: string): void {
  // One line whatever the message holds: log collectors split on newlines.
  process.stderr.write(`kube-local-lb: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
}

function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof UsageError) {
    report(err.message);
    return EXIT_USAGE;
  }
  if (err instanceof StartupError || err instanceof CommandFailed) {
    report(err.message);
    return EXIT_FAILURE;
  }
  report(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT_FAILURE;
}

let service: Service | undefined;

// SIGHUP's default action ends the process: one sent while starting (systemd's ExecReload, say)
// must not kill it. Once serving it reloads the config.
process.on('SIGHUP', () => void service?.reload('signal'));

/**
 * SIGTERM or SIGINT: stop accepting, give sessions the configured grace, exit 0. A second one
 * exits at once (an operator pressing Ctrl-C twice means it).
 */
function handleStopSignals(service: Service): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      service.log.warn({ event: 'shutdown', signal, forced: true }, `${signal} again: exiting now`);
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    service.close(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        report(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// A function rather than top-level await: the single executable runs this file as CommonJS.
async function main(): Promise<void> {
  try {
    const outcome = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout });
    if (outcome.kind === 'serving') {
      service = outcome.service;
      handleStopSignals(outcome.service);
    } else if (outcome.exitCode !== undefined) {
      process.exitCode = outcome.exitCode;
    }
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

void main();
