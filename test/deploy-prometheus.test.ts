// deploy/prometheus/kube-local-lb-alerts.yaml on a fleet: 53 nodes (3 control-plane, 50
// workers) each reporting 3 apiservers, under promtool test rules. One apiserver down is one
// alert; one node cut off is one alert naming that node; the control plane gone is one alert.
// deploy/grafana/kube-local-lb.json: every panel query evaluated by promtool on the same series.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = join(ROOT, 'deploy/prometheus/kube-local-lb-alerts.yaml');
const DASHBOARD = join(ROOT, 'deploy/grafana/kube-local-lb.json');
const dir = mkdtempSync(join(tmpdir(), 'klb-deploy-prom-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (Debian package prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const NODES = [...['cp1', 'cp2', 'cp3'], ...Array.from({ length: 50 }, (_, i) => `w${i + 1}`)];
const BACKENDS = ['10.0.0.11:6443', '10.0.0.12:6443', '10.0.0.13:6443'];
const STATES = ['unknown', 'up', 'draining', 'down'] as const;
type State = (typeof STATES)[number];
const at = (node: string): string => `instance="${node}:9445", job="kube-local-lb"`;

/** Every series the fleet exports for 10 minutes, each backend's state on each node given by `state`. */
function fleet(state: (node: string, backend: string) => State): object[] {
  const series: object[] = [];
  for (const node of NODES) {
    const states = BACKENDS.map((b) => state(node, b));
    for (const [i, backend] of BACKENDS.entries()) {
      for (const s of STATES) {
        series.push({ series: `kube_local_lb_backend_state{${at(node)}, backend="${backend}", state="${s}"}`, values: `${states[i] === s ? 1 : 0}x10` });
      }
      series.push({ series: `kube_local_lb_backend_check_authorized{${at(node)}, backend="${backend}"}`, values: '1x10' });
      series.push({ series: `kube_local_lb_backend_sessions{${at(node)}, backend="${backend}"}`, values: states[i] === 'up' ? '3x10' : '0x10' });
      series.push({ series: `kube_local_lb_sessions_total{${at(node)}, backend="${backend}"}`, values: '0+3x10' });
      series.push({ series: `kube_local_lb_ejected_sessions_total{${at(node)}, backend="${backend}"}`, values: '0x10' });
      for (const le of ['0.005', '0.01', '0.1', '+Inf']) {
        series.push({ series: `kube_local_lb_check_duration_seconds_bucket{${at(node)}, backend="${backend}", le="${le}"}`, values: '0+30x10' });
      }
      series.push({ series: `kube_local_lb_check_duration_seconds_count{${at(node)}, backend="${backend}"}`, values: '0+30x10' });
      series.push({ series: `kube_local_lb_check_duration_seconds_sum{${at(node)}, backend="${backend}"}`, values: '0+0.1x10' });
    }
    const live = states.some((s) => s === 'up' || s === 'unknown');
    const panic = !live && states.includes('draining');
    series.push({ series: `kube_local_lb_panic{${at(node)}}`, values: `${panic ? 1 : 0}x10` });
    series.push({ series: `kube_local_lb_all_backends_down{${at(node)}}`, values: `${!live && !panic ? 1 : 0}x10` });
    series.push({ series: `up{${at(node)}}`, values: '1x10' });
    series.push({ series: `kube_local_lb_replays_total{${at(node)}, reason="connect_failed"}`, values: '0+1x10' });
    series.push({ series: `kube_local_lb_rejected_connections_total{${at(node)}, reason="no_backend"}`, values: '0x10' });
    series.push({ series: `kube_local_lb_nodejs_eventloop_lag_p99_seconds{${at(node)}}`, values: '0.002x10' });
    series.push({ series: `kube_local_lb_process_resident_memory_bytes{${at(node)}}`, values: '60000000x10' });
    series.push({ series: `kube_local_lb_process_cpu_seconds_total{${at(node)}}`, values: '0+0.06x10' });
  }
  return series;
}

const ALERTS = ['KubeLocalLbApiserverDown', 'KubeLocalLbControlPlaneUnreachable', 'KubeLocalLbFleetPanic', 'KubeLocalLbNodeBackendDown',
  'KubeLocalLbNodeCutOff', 'KubeLocalLbNodePanic', 'KubeLocalLbNotScraped'];

/** The promtool test of one scenario at 5m: `expected` lists the alerts that fire, all others none. */
function scenario(name: string, state: (node: string, backend: string) => State, expected: Record<string, object[]>): object {
  return {
    name,
    interval: '1m',
    input_series: fleet(state),
    alert_rule_test: ALERTS.map((alertname) => ({ alertname, eval_time: '5m', exp_alerts: expected[alertname] ?? [] })),
  };
}

function rulesWithoutAnnotations(): string {
  // Annotations are templates checked by promtool check rules; the unit tests compare labels.
  const document = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { annotations?: unknown }[] }[] };
  for (const group of document.groups) for (const rule of group.rules) delete rule.annotations;
  writeFileSync(join(dir, 'rules.yaml'), stringify(document));
  return 'rules.yaml';
}

test('the alert rules pass promtool check rules', () => {
  const checked = promtool(['check', 'rules', RULES]);
  assert.equal(checked.status, 0, checked.output);
});

test('on 53 nodes: one apiserver down is one alert; one node cut off is that node\'s one alert; the control plane gone is one', () => {
  const down = '10.0.0.12:6443';
  const tests = {
    rule_files: [rulesWithoutAnnotations()],
    evaluation_interval: '1m',
    tests: [
      scenario('all well', () => 'up', {}),
      scenario('one apiserver down', (_n, b) => (b === down ? 'down' : 'up'), {
        KubeLocalLbApiserverDown: [{ exp_labels: { backend: down, severity: 'warning' } }],
      }),
      scenario('one worker cut off from every apiserver: one alert, not one more per apiserver', (n) => (n === 'w7' ? 'down' : 'up'), {
        KubeLocalLbNodeCutOff: [{ exp_labels: { instance: 'w7:9445', job: 'kube-local-lb', severity: 'critical' } }],
      }),
      scenario('one worker cut off from one apiserver', (n, b) => (n === 'w7' && b === down ? 'down' : 'up'), {
        KubeLocalLbNodeBackendDown: [{ exp_labels: { instance: 'w7:9445', job: 'kube-local-lb', backend: down, state: 'down', severity: 'warning' } }],
      }),
      scenario('the whole control plane unreachable', () => 'down', {
        KubeLocalLbControlPlaneUnreachable: [{ exp_labels: { severity: 'critical' } }],
      }),
      scenario('etcd trouble: every apiserver draining everywhere', () => 'draining', {
        KubeLocalLbFleetPanic: [{ exp_labels: { severity: 'critical' } }],
      }),
      scenario('one node in panic alone', (n) => (n === 'cp2' ? 'draining' : 'up'), {
        KubeLocalLbNodePanic: [{ exp_labels: { instance: 'cp2:9445', job: 'kube-local-lb', severity: 'warning' } }],
      }),
    ],
  };
  writeFileSync(join(dir, 'fleet.test.yaml'), stringify(tests));
  const tested = promtool(['test', 'rules', 'fleet.test.yaml']);
  assert.equal(tested.status, 0, tested.output);
});

interface Panel { title: string; type: string; targets?: { expr: string; legendFormat?: string }[]; panels?: Panel[] }

test('every query of the Grafana dashboard is valid PromQL that returns series on the fleet\'s metrics', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } };
  assert.equal(dashboard.uid, 'kube-local-lb');
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
  const titles = panels.map((p) => p.title);
  for (const wanted of ['Backends per state, per node', 'Sessions per apiserver', 'Health check latency (p99)', 'Ejected sessions', 'Replays', 'Nodes in panic']) {
    assert.ok(titles.includes(wanted), `a panel "${wanted}"`);
  }
  // Each query becomes a recording rule (Grafana's variables replaced by what they select), so
  // promtool parses it, and a test evaluates it: a query that names no real series fails.
  const queries = panels.flatMap((p) => (p.targets ?? []).map((t, i) => ({ name: `${p.title} #${i}`, expr: t.expr })));
  assert.ok(queries.length >= 8, 'queries found');
  const concrete = (expr: string): string => expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h')
    .replaceAll('=~"$instance"', '=~".+"').replaceAll('=~"$backend"', '=~".+"').replaceAll('$job', 'kube-local-lb');
  const rules = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: concrete(q.expr) })) }] };
  writeFileSync(join(dir, 'dashboard-rules.yaml'), stringify(rules));
  const checked = promtool(['check', 'rules', 'dashboard-rules.yaml']);
  assert.equal(checked.status, 0, checked.output);
  for (const q of queries) assert.doesNotMatch(concrete(q.expr), /\$/, `${q.name}: a variable left unreplaced`);
  // Every query must return something on a fleet with one apiserver down.
  const tests = {
    rule_files: ['dashboard-rules.yaml'],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: fleet((_n, b) => (b === '10.0.0.12:6443' ? 'down' : 'up')),
      promql_expr_test: queries.map((_q, i) => ({ expr: `count(dashboard:query_${i}) > bool 0`, eval_time: '9m', exp_samples: [{ labels: '{}', value: 1 }] })),
    }],
  };
  writeFileSync(join(dir, 'dashboard.test.yaml'), stringify(tests));
  const tested = promtool(['test', 'rules', 'dashboard.test.yaml']);
  assert.equal(tested.status, 0, tested.output);
});
