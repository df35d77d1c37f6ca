import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parse, stringify } from 'yaml';
import { InterceptionMetrics } from '../src/clusterip/metrics.js';
import { createMetrics } from '../src/service/metrics.js';
import { runMain } from './cli-spawn.js';

/*
 * docs/operations.md against the binary: its metrics table against the registry, its Prometheus
 * configurations and alert rules against promtool (check, and a unit test of every alert).
 */

const DOC = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'kube-local-lb-docs-ops-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The ```yaml blocks of the page whose first line is `# <name>` (a file name, then a comment). */
function yamlBlocks(name: string): string[] {
  return [...DOC.matchAll(/^```yaml\n(# ([^\n:]+)[^\n]*\n[\s\S]*?)^```$/gm)].filter((m) => m[2] === name).map((m) => m[1] ?? '');
}

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// The rules live in deploy/prometheus/ (test/deploy-prometheus.test.ts runs them on a fleet).
const RULES = [readFileSync(new URL('../../deploy/prometheus/kube-local-lb-alerts.yaml', import.meta.url), 'utf8')];

test('the metrics table lists every kube_local_lb_ metric with its type and labels, and nothing else', async () => {
  const registry = new Registry();
  createMetrics(registry);
  // Registered by the app only with --cluster-ip or --cluster-ip-link-local.
  new InterceptionMetrics(registry);
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix: 'kube_local_lb_' });
  const defaultNames = new Set(defaults.getMetricsAsArray().map((m) => m.name));
  const ours = registry.getMetricsAsArray().filter((m) => !defaultNames.has(m.name));
  const types = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
  const rows = new Map([...DOC.matchAll(/^\| `(kube_local_lb_[a-z_]+)` \| (\w+) \| ([^|]+) \|/gm)]
    .map((m) => [m[1] ?? '', { type: m[2] ?? '', labels: m[3]?.trim() ?? '' }]));
  for (const metric of ours) {
    const row = rows.get(metric.name);
    assert.ok(row, `docs/operations.md, "Metrics": add a row for ${metric.name}`);
    assert.equal(row.type, types.get(metric.name), `${metric.name}: type`);
    const labels = (metric as unknown as { labelNames: string[] }).labelNames;
    assert.equal(row.labels, labels.length === 0 ? '(none)' : labels.map((l) => `\`${l}\``).join(', '), `${metric.name}: labels`);
  }
  const names = new Set(ours.map((m) => m.name));
  assert.deepEqual([...rows.keys()].filter((name) => !names.has(name)), [], 'rows for metrics that do not exist');
});

test('the alert rules pass promtool and name only metrics that exist', async () => {
  assert.match(DOC, /deploy\/prometheus\/kube-local-lb-alerts\.yaml/, 'the page names the rules file');
  const rules = RULES[0] ?? '';
  writeFileSync(join(dir, 'kube-local-lb-alerts.yaml'), rules);
  const checked = promtool(['check', 'rules', 'kube-local-lb-alerts.yaml'], dir);
  assert.equal(checked.status, 0, checked.output);
  const registry = new Registry();
  createMetrics(registry);
  const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  for (const [name] of rules.matchAll(/kube_local_lb_[a-z_]+/g)) {
    assert.ok(exported.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} is a metric kube-local-lb exports`);
  }
});

test('both Prometheus configurations pass promtool check config, with the rules file', (t) => {
  const configs = yamlBlocks('prometheus.yml');
  assert.equal(configs.length, 2, 'static targets and per-node discovery');
  writeFileSync(join(dir, 'kube-local-lb-alerts.yaml'), RULES[0] ?? '');
  for (const config of configs) {
    writeFileSync(join(dir, 'prometheus.yml'), config);
    let checked = promtool(['check', 'config', 'prometheus.yml'], dir);
    if (checked.output.includes('field kubernetes_sd_configs not found')) {
      // Debian's promtool is built without Kubernetes service discovery: check the rest of the
      // job (relabelling, rule files) with the node role's target written out.
      t.diagnostic('promtool has no kubernetes_sd_configs: checked with a static target in its place');
      writeFileSync(join(dir, 'prometheus.yml'), config.replace(/kubernetes_sd_configs:\n(\s+)- role: node/, 'static_configs:\n$1- targets: [10.0.0.21:10250]'));
      checked = promtool(['check', 'config', 'prometheus.yml'], dir);
    }
    assert.equal(checked.status, 0, `${config}\n${checked.output}`);
  }
});

/** Series one node exports, in promtool's notation, for the alert unit tests. */
const NODE = 'instance="n1:9445", job="kube-local-lb"';

test('every alert fires on the series it is about (promtool test rules)', () => {
  // Annotations are templates, checked above; here only expressions and durations are tested.
  const document = parse(RULES[0] ?? '') as { groups: { rules: { alert: string; annotations?: unknown }[] }[] };
  for (const group of document.groups) for (const rule of group.rules) delete rule.annotations;
  writeFileSync(join(dir, 'rules-without-annotations.yaml'), stringify(document));
  // Alert labels: the series' labels left by the expression (no __name__), plus the rule's.
  const firing = (alertname: string, at: string, labels: Record<string, string>): object =>
    ({ alertname, eval_time: at, exp_alerts: [{ exp_labels: { instance: 'n1:9445', ...labels } }] });
  const quiet = (alertname: string, at: string): object => ({ alertname, eval_time: at, exp_alerts: [] });
  const job = 'kube-local-lb';
  const backend = 'backend="10.0.0.12:6443"';
  const tests = {
    rule_files: ['rules-without-annotations.yaml'],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: [
        { series: `up{${NODE}}`, values: '0x6' },
        { series: `kube_local_lb_backend_check_authorized{${NODE}, ${backend}}`, values: '0x6' },
        // Exported at 0 from the start: the first rejection is an increase.
        { series: `kube_local_lb_config_reloads_total{${NODE}, result="rejected"}`, values: '0 0 1 1 1 1 1' },
        { series: `kube_local_lb_backend_sessions{${NODE}, ${backend}}`, values: '17000x6' },
        { series: `kube_local_lb_max_connections{${NODE}}`, values: '20000x6' },
        { series: `kube_local_lb_rejected_connections_total{${NODE}, reason="max_connections"}`, values: '0 0 0 4 4 4 4' },
      ],
      alert_rule_test: [
        firing('KubeLocalLbNotScraped', '6m', { job, severity: 'warning' }),
        // A fleet alert: labelled by the backend, not by the node.
        { alertname: 'KubeLocalLbProbeCredentialRejected', eval_time: '6m', exp_alerts: [{ exp_labels: { severity: 'warning', backend: '10.0.0.12:6443' } }] },
        quiet('KubeLocalLbReloadRejected', '1m'),
        firing('KubeLocalLbReloadRejected', '3m', { job, severity: 'warning', result: 'rejected' }),
        firing('KubeLocalLbSessionsNearMax', '6m', { severity: 'warning' }),
        quiet('KubeLocalLbRefusingClients', '2m'),
        firing('KubeLocalLbRefusingClients', '4m', { job, severity: 'critical', reason: 'max_connections' }),
      ],
    }],
  };
  writeFileSync(join(dir, 'alerts.test.yaml'), stringify(tests));
  const tested = promtool(['test', 'rules', 'alerts.test.yaml'], dir);
  assert.equal(tested.status, 0, tested.output);
});

test('the status section lists the flags status --help lists, with their defaults', async () => {
  const result = await runMain(['status', '--help']);
  assert.equal(result.code, 0);
  const section = DOC.slice(DOC.indexOf('\n## `kube-local-lb status`'), DOC.indexOf('\n## Reloading'));
  for (const match of result.stdout.replace(/\n {20,}/g, ' ').matchAll(/^ {2,}(?:-(\w), )?--([a-z-]+)\s(.*)$/gm)) {
    const [, alias, flag, rest] = match;
    if (flag === undefined || flag === 'help' || flag === 'version') continue;
    const shown = /\[default: (.*?)\]/.exec(rest ?? '')?.[1];
    const name = alias ? `\`--${flag}\`, \`-${alias}\`` : `\`--${flag}\``;
    assert.ok(section.includes(`\n| ${name} | \`${shown ?? ''}\` |`), `status --${flag} (default ${shown}) has a row`);
  }
});
