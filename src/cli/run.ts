import type { Argv, CommandModule } from 'yargs';
import { Service, type ServiceDeps } from './service.js';
import { SETTINGS_EPILOG, withSettingOptions } from './options.js';
import type { CliContext } from './context.js';

/**
 * `kube-local-lb run` (the default command): load the config, start the proxy, and hand the
 * running service to main.ts, which owns the signals.
 */
export function runCommand(context: CliContext, deps: ServiceDeps): CommandModule {
  return {
    command: ['run', '$0'],
    describe: 'Run the load balancer (the default command)',
    builder: (yargs: Argv) =>
      withSettingOptions(yargs)
        .example('$0 --backend 10.0.0.1:6443 --backend 10.0.0.2:6443', 'two apiservers, defaults elsewhere')
        .example('$0 --config /etc/kube-local-lb.yaml', 'settings from a file')
        .epilog(SETTINGS_EPILOG),
    handler: async (argv) => {
      context.finish({ kind: 'serving', service: await Service.start(argv, context.env, deps) });
    },
  };
}
