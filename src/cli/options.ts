import type { Argv, Options } from 'yargs';
import { CONFIG_ENV } from '../config/env.js';
import { CONFIG_FLAG, SETTINGS, SETTING_KEYS, defaultText, envName, type SettingGroup, type SettingKey } from '../config/settings.js';

const GROUP_TITLES: Record<SettingGroup, string> = {
  proxy: 'Proxy:',
  health: 'Health checks:',
  discovery: 'Discovery:',
  'cluster-ip': 'Pods (the kubernetes ClusterIP):',
  admin: 'Admin and logs:',
};

/**
 * The flags shared by `run` and `check-config`: one per setting, plus `--config`. Each help line
 * gives the default and the matching variable and file key. No yargs default is set: an absent
 * flag must stay absent so that the variable or the file can supply the value.
 */
export function withSettingOptions<T>(yargs: Argv<T>): Argv<T> {
  let built = yargs.option(CONFIG_FLAG, {
    type: 'string',
    requiresArg: true,
    describe: `YAML config file; keys mirror the flags in camelCase (health.interval for --health-interval). [env ${CONFIG_ENV}]`,
    group: 'Sources:',
  });
  for (const key of SETTING_KEYS) built = built.option(SETTINGS[key].flag, optionFor(key));
  return built;
}

function optionFor<K extends SettingKey>(key: K): Options {
  const spec = SETTINGS[key];
  const where = `[env ${envName(spec.flag)}, file ${spec.file}]`;
  const option: Options = {
    describe: `${spec.describe}. ${where}`,
    group: GROUP_TITLES[spec.group],
  };
  const shown = defaultText(key);
  if (shown !== undefined) option.defaultDescription = shown;
  // Every flag is read as text and parsed by config/: yargs' own boolean type turns any value
  // it does not know (`--flag=1`, `--flag=maybe`) into false without a word.
  option.type = 'string';
  if (spec.kind.flagAlone !== undefined) {
    option.describe = `${spec.describe}; --${spec.flag} alone means ${spec.kind.flagAlone}, or give true|false. ${where}`;
  } else {
    option.requiresArg = true;
  }
  return option;
}

/** Explanations that concern every flag, shown under each command's help. */
export const SETTINGS_EPILOG = [
  'Sources, each overriding the one before: defaults, the --config file, KUBE_LOCAL_LB_* variables, flags. A list (--listen, --backend) from a later source replaces the earlier list.',
  'Lists: repeat the flag, or separate items with commas (also in variables: KUBE_LOCAL_LB_BACKEND=10.0.0.1:6443,10.0.0.2:6443,priority=1).',
  'Durations: 500ms, 2s, 1m, 1m30s. Relative paths in the config file are relative to the file.',
  'Exit codes: 0 stopped cleanly; 1 failed to start or run; 2 invalid flags or configuration.',
].join('\n\n');
