import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { SETTINGS, SETTING_KEYS } from '../src/config/settings.js';
import { toFileDocument } from '../src/config/to-file.js';

// The config shape is written once, in SETTINGS: each row names its place in Config, and
// loading and check-config's document are derived from the rows.

/** Every leaf of a loaded Config, as `key` or `section.key`. */
function leaves(config: object): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (['health', 'discovery', 'clusterIp'].includes(key)) {
      for (const leaf of Object.keys(value as object)) out.push(`${key}.${leaf}`);
    } else {
      out.push(key);
    }
  }
  return out.sort();
}

test('every place in Config is named by exactly one setting, apart from the two no setting gives', () => {
  const config = loadConfig({ backend: '10.0.0.1:6443' }, {});
  const named = SETTING_KEYS.map((key) => SETTINGS[key].config);
  assert.equal(new Set(named).size, named.length, `a place named twice: ${named.join(', ')}`);
  assert.deepEqual([...named, 'replayBufferBytes', 'configFile'].sort(), leaves(config));
});

test('each setting given by flag lands at its own place, and check-config reads it back from there', () => {
  const flags = {
    backend: '10.0.0.1:6443', 'connect-timeout': '1500ms', 'first-byte-timeout': '2500ms', 'drain-timeout': '35s',
    'slow-start': '7s', 'shutdown-grace': '11s', 'eject-spread': '4s', 'rebalance-interval': '13s', 'rebalance-quiet': '3s',
    'rebalance-after': '90s', 'health-interval': '3s', 'health-timeout': '1200ms', 'health-fall': '4', 'health-rise': '5', 'max-connections': '777',
    discover: '', 'discover-port-override': '6440',
  };
  const config = loadConfig(flags, {});
  assert.deepEqual(
    [config.connectTimeoutMs, config.firstByteTimeoutMs, config.drainTimeoutMs, config.slowStartMs, config.shutdownGraceMs,
      config.ejectSpreadMs, config.rebalanceIntervalMs, config.rebalanceQuietMs, config.rebalanceAfterMs, config.health.intervalMs,
      config.health.timeoutMs, config.health.fall, config.health.rise, config.maxConnections, config.discovery.portOverride],
    [1500, 2500, 35_000, 7000, 11_000, 4000, 13_000, 3000, 90_000, 3000, 1200, 4, 5, 777, 6440]);
  const document = toFileDocument(config);
  const health = document['health'] as Record<string, unknown>;
  assert.deepEqual([document['connectTimeout'], document['firstByteTimeout'], health['interval'], health['timeout'], health['fall'], health['rise']],
    ['1s500ms', '2s500ms', '3s', '1s200ms', 4, 5]);
});
