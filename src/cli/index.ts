import { createRequire } from 'node:module';
import type { CommandModule } from 'yargs';
import type yargsFactory from 'yargs';
import type { Env } from '../config/env.js';
import { SETTINGS } from '../config/settings.js';
import { suggest } from '../config/suggest.js';
import { checkConfigCommand } from './check-config.js';
import type { CliContext, Outcome } from './context.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { UsageError } from './errors.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import type { ServiceDeps } from '../service/service.js';
import { VERSION } from '../version.js';

export type { Outcome };

export interface CliOptions {
  env: Env;
  stdout: { write(text: string): unknown };
  /** Replaces parts of the running service (tests). */
  deps?: Partial<ServiceDeps>;
}

// yargs' ES module build wraps help text in the middle of words (its cliui has no wrap-ansi);
// the CommonJS build, same version, wraps at word boundaries.
const yargs: typeof yargsFactory = createRequire(import.meta.url)('yargs');

/**
 * Parses `args` (argv without node and the script) and runs the command. Resolves with the
 * outcome (for `--help` and `--version`: done); rejects with a UsageError (bad command line), a
 * ConfigError (bad value) or a StartupError. Never exits the process: that is main.ts's job.
 */
export async function runCli(args: readonly string[], options: CliOptions): Promise<Outcome> {
  let outcome: Outcome = { kind: 'done' };
  const context: CliContext = {
    env: options.env,
    stdout: options.stdout,
    finish: (result) => {
      outcome = result;
    },
  };
  const commands: CommandModule[] = [
    runCommand(context, options.deps ?? {}),
    checkConfigCommand(context),
    statusCommand(context),
    demoCommand(context),
    kubeconfigCommand(context),
    doctorCommand(context),
  ];
  let cli = yargs([...args])
    .scriptName('kube-local-lb')
    .usage('$0 [command] [flags]\n\nNode-local L4 load balancer for the Kubernetes apiserver.')
    .parserConfiguration({
      // Flags keep their one spelling (no camelCase copy, no dotted objects, numbers stay text):
      // config/load.ts parses every value and names the flag in its errors.
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'duplicate-arguments-array': true,
    });
  for (const command of commands) cli = cli.command(command);
  await cli
    .strict()
    .help()
    .alias('help', 'h')
    .version(VERSION)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message: string | null | undefined, err: Error | undefined) => {
      // yargs reports its own parse errors as YError; anything else was thrown by a handler.
      if (err && err.name !== 'YError') throw err;
      throw usageError(message ?? err?.message ?? 'invalid command line', args, commands.map(commandName));
    })
    .parseAsync();
  return outcome;
}

/** yargs' messages, rewritten to name the flag the way the operator typed it. */
function usageError(message: string, args: readonly string[], commandNames: string[]): UsageError {
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return new UsageError(`--${missing[1] ?? ''}: missing value`);
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  const name = unknown?.[1]?.split(', ')[0];
  if (name !== undefined) {
    const typedAsFlag = args.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`) || arg === `-${name}`);
    if (typedAsFlag) {
      const hint = suggest(name, knownFlags());
      return new UsageError(`--${name}: unknown flag${hint ? ` (did you mean --${hint}?)` : ' (see --help)'}`);
    }
    const hint = suggest(name, commandNames);
    return new UsageError(`${name}: unknown command (${hint ? `did you mean ${hint}?` : `expected ${commandNames.join(', ')}; see --help`})`);
  }
  return new UsageError(message);
}

/** `check-config` from `'check-config'`, `['run', '$0']` or `'kubeconfig <file>'`. */
function commandName(command: CommandModule): string {
  const [first = ''] = Array.isArray(command.command) ? command.command : [command.command ?? ''];
  return first.split(' ')[0] ?? first;
}

function knownFlags(): string[] {
  return [...Object.values(SETTINGS).map((spec) => spec.flag), 'config', 'help', 'version'];
}
