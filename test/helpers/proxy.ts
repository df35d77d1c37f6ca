import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { type App, startApp } from '../../src/service/app.js';
import { type BackendConfig, type Config, DEFAULTS, type HealthConfig } from '../../src/config/schema.js';
import { type LogSink, logSink } from './logs.js';

export type TestConfig = Partial<Omit<Config, 'health' | 'backends'>> & {
  backends: (string | Partial<BackendConfig> & { address: string })[];
  health?: Partial<HealthConfig>;
};

/** A full Config for tests: fast checks over plain HTTP unless told otherwise, free ports. */
export function testConfig(c: TestConfig): Config {
  return {
    ...DEFAULTS,
    listen: [{ host: '127.0.0.1', port: 0 }],
    adminListen: null,
    configFile: undefined,
    slowStartMs: 0,
    // Tests of other behaviour see no session closed to rebalance and ejects at once; the tests
    // of these two turn them on.
    rebalance: false,
    ejectSpreadMs: 0,
    ...c,
    backends: c.backends.map((b) => {
      const spec = typeof b === 'string' ? { address: b } : b;
      const i = spec.address.lastIndexOf(':');
      return {
        host: spec.address.slice(0, i).replace(/^\[|\]$/g, ''),
        port: Number(spec.address.slice(i + 1)),
        priority: 0,
        weight: 1,
        ...spec,
      };
    }),
    health: { ...DEFAULTS.health, scheme: 'http', intervalMs: 200, timeoutMs: 150, rise: 1, fall: 2, ...c.health },
  };
}

export interface TestProxy {
  app: App;
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

export async function startProxy(c: TestConfig, logs: LogSink): Promise<TestProxy> {
  const registry = new Registry();
  const app = await startApp(testConfig(c), { log: logs.logger, registry });
  const port = app.listenAddresses[0]?.port ?? 0;
  return { app, port, registry, close: () => app.close(0) };
}

/** A proxy in front of these backends, logging to `logs`; it and they close when the test ends. */
export async function startProxyBefore(
  t: TestContext,
  backends: readonly { address: string; close(): Promise<void> }[],
  settings: Omit<TestConfig, 'backends'>,
  logs: LogSink,
): Promise<TestProxy> {
  const lb = await startProxy({ ...settings, backends: backends.map((b) => b.address) }, logs);
  t.after(async () => {
    await lb.close();
    for (const b of backends) await b.close();
  });
  return lb;
}

/**
 * A proxy in front of one backend, both closed when the test ends; resolves once the backend is
 * up, so that the first client is served.
 */
export async function startProxyFor(
  t: TestContext,
  backend: { address: string; close(): Promise<void> },
  settings: Omit<TestConfig, 'backends'> = {},
): Promise<TestProxy> {
  const logs = logSink('info');
  const lb = await startProxyBefore(t, [backend], settings, logs);
  await logs.waitFor({ event: 'backend_state', to: 'up' });
  return lb;
}
