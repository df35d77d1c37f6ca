import fc from 'fast-check';
import { stringify } from 'yaml';

/**
 * Kubeconfigs as a broken tool or a careless edit may leave them: entries missing or of the
 * wrong type, dangling names, unreadable file references, bad base64, several documents, cut
 * short. Each carries secrets (a bearer token, a password, a client key) that must never be
 * printed, whatever else is wrong with the file.
 */
export interface HostileKubeconfig {
  text: string;
  /** Strings that must appear in no output and no error. */
  secrets: string[];
}

/** A token-like random string: long enough that it appears nowhere by chance. */
export const secretText = fc.stringMatching(/^[A-Za-z0-9]{32}$/).map((s) => `s3cr3t${s}`);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** Sometimes the right thing, sometimes missing (undefined), sometimes anything. */
function maybe<T>(right: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> {
  return fc.oneof({ weight: 5, arbitrary: right }, { weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyValue });
}

const name = fc.constantFrom('kubernetes', 'prod', 'lab', 'system:node:n1', 'a', '');
const path = fc.constantFrom('/nonexistent/ca.crt', 'relative/client.pem', '/dev/null', '/', '', '/proc/self/status');
const url = fc.constantFrom('https://10.0.0.10:6443', 'https://[fd00::10]:6443', 'https://cp.example.com', 'http://x', 'not a url', '', 'https://');
const base64 = fc.oneof(fc.base64String({ maxLength: 40 }), fc.constantFrom('!!!not base64!!!', '', '===='));

function kubeconfigData(secrets: { token: string; password: string; key: string }): fc.Arbitrary<Record<string, unknown>> {
  const cluster = fc.record({
    server: maybe(url),
    'certificate-authority-data': maybe(base64),
    'certificate-authority': maybe(path),
    'tls-server-name': maybe(name),
    'insecure-skip-tls-verify': maybe(fc.boolean()),
  }, { requiredKeys: [] });
  const user = fc.record({
    token: maybe(fc.constant(secrets.token)),
    tokenFile: maybe(path),
    password: maybe(fc.constant(secrets.password)),
    username: maybe(name),
    'client-key-data': maybe(fc.constant(Buffer.from(`-----BEGIN PRIVATE KEY-----\n${secrets.key}\n-----END PRIVATE KEY-----\n`).toString('base64'))),
    'client-certificate-data': maybe(base64),
    'client-key': maybe(path),
    'client-certificate': maybe(path),
  }, { requiredKeys: [] });
  const context = fc.record({ cluster: maybe(name), user: maybe(name), namespace: maybe(name) }, { requiredKeys: [] });
  const entries = <T>(key: string, inner: fc.Arbitrary<T>) =>
    maybe(fc.array(maybe(fc.record({ name: maybe(name), [key]: maybe(inner) }, { requiredKeys: [] })), { maxLength: 3 }));
  return fc.record({
    apiVersion: maybe(fc.constant('v1')),
    kind: maybe(fc.constantFrom('Config', 'Pod')),
    'current-context': maybe(name),
    clusters: entries('cluster', cluster),
    contexts: entries('context', context),
    users: entries('user', user),
  }, { requiredKeys: [] });
}

export const hostileKubeconfig: fc.Arbitrary<HostileKubeconfig> = fc.tuple(secretText, secretText, secretText).chain(([token, password, key]) => {
  const secrets = [token, password, key, Buffer.from(`-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`).toString('base64')];
  const data = kubeconfigData({ token, password, key });
  const text = fc.oneof(
    { weight: 4, arbitrary: data.map((d) => stringify(d)) },
    { weight: 1, arbitrary: data.map((d) => stringify(d, { collectionStyle: 'flow' })) },
    { weight: 1, arbitrary: data.map((d) => JSON.stringify(d, null, 1)) },
    // Two documents, or one cut short, or with a line of junk in it.
    { weight: 1, arbitrary: fc.tuple(data, data).map(([a, b]) => `${stringify(a)}---\n${stringify(b)}`) },
    { weight: 2, arbitrary: fc.tuple(data, fc.nat(), fc.constantFrom('\t', ':', '- ', '"', "'", '{', '[', '&a', '*a', '!!binary ', '%', '\n  ', ' #', '\u0000'))
      .map(([d, at, junk]) => {
        const full = stringify(d);
        const cut = full.length === 0 ? 0 : at % full.length;
        return at % 3 === 0 ? full.slice(0, cut) : `${full.slice(0, cut)}${junk}${full.slice(cut)}`;
      }) },
    // A secret written so that a YAML parser stumbles right on it.
    { weight: 2, arbitrary: fc.tuple(data, fc.constantFrom('*', '&', '!', '!!binary ', '!!int ', '|', '|x', '>-', '"', "'", '%', '@', '`', '? ', '- ', '[', '{', '\\'))
      .map(([d, prefix]) => stringify({ ...d, users: [{ name: 'u', user: { token: token } }] }).replace(token, `${prefix}${token}`)) },
  );
  return text.map((t) => ({ text: t, secrets }));
});
