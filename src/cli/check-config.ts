import type { Argv, CommandModule } from 'yargs';
import { healthTimeoutWarning } from '../config/health-timing.js';
import { loadConfig } from '../config/load.js';
import { SETTINGS_EPILOG, withSettingOptions } from './options.js';
import type { CliContext } from './context.js';

const HEADER = '# kube-local-lb effective configuration (defaults < --config file < KUBE_LOCAL_LB_* < flags)\n';

/**
 * `kube-local-lb check-config`: validate the flags, variables and file exactly as `run` would,
 * and print the effective config as a YAML config file. It holds no secret: credentials are
 * file paths, never contents.
 */
export function checkConfigCommand(context: CliContext): CommandModule {
  return {
    command: 'check-config',
    describe: 'Validate the configuration and print the effective one as YAML',
    builder: (yargs: Argv) =>
      withSettingOptions(yargs)
        .example('$0 check-config --config /etc/kube-local-lb.yaml', 'what run would use')
        .epilog(SETTINGS_EPILOG),
    handler: async (argv) => {
      const config = loadConfig(argv, context.env);
      // Loaded only now: printing YAML is this command's alone.
      const [{ stringify }, { toFileDocument }] = await Promise.all([import('yaml'), import('../config/to-file.js')]);
      // What run would warn about at start, as a comment the document stays valid YAML with.
      const timing = healthTimeoutWarning(config.health);
      const warnings = timing === undefined ? '' : `# warning: ${timing}\n`;
      context.stdout.write(HEADER + warnings + stringify(toFileDocument(config), { lineWidth: 0 }));
      context.finish({ kind: 'done' });
    },
  };
}
