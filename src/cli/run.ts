import type { Argv, CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import type { ServiceDeps } from '../service/service.js';
import { SETTINGS_EPILOG, withSettingOptions } from './options.js';
import type { CliContext } from './context.js';

/**
 * `kube-local-lb run` (the default command): load the config, start the proxy, and hand the
 * running service to main.ts, which owns the signals.
 */
export function runCommand(context: CliContext, deps: Partial<ServiceDeps>): CommandModule {
  return {
    command: ['run', '$0'],
    describe: 'Run the load balancer (the default command)',
    builder: (yargs: Argv) =>
      withSettingOptions(yargs)
        .example('$0 --backend 10.0.0.1:6443 --backend 10.0.0.2:6443', 'two apiservers, defaults elsewhere')
        .example('$0 --config /etc/kube-local-lb.yaml', 'settings from a file')
        .epilog(SETTINGS_EPILOG),
    handler: async (argv) => {
      const config = loadConfig(argv, context.env);
      // Before anything is started or changed: a missing capability is refused in one line.
      const { precheckInterception } = await import('../clusterip/precheck.js');
      await precheckInterception(config.clusterIp);
      // Loaded only now: the proxy, the checker and prom-client are needed to serve, not to
      // refuse a bad flag, print help or check a config.
      const { Service, DEFAULT_DEPS } = await import('../service/service.js');
      const service = await Service.start(config, { flags: argv, env: context.env }, { ...DEFAULT_DEPS, ...deps });
      context.finish({ kind: 'serving', service });
    },
  };
}
