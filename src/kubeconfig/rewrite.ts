import { isDeepStrictEqual } from 'node:util';
import { isScalar, parse, type Pair, type Scalar } from 'yaml';
import { ConfigError } from '../config/config-error.js';
import { parseKubeconfig, type ClusterEntry, type KubeconfigDocument } from './document.js';
import { isObject } from '../json.js';

/** Where the clusters should point: the proxy, and the name the apiserver certificates hold. */
export interface RewriteTarget {
  server: string;
  tlsServerName: string;
  /** Only these clusters (by name); empty: every cluster. */
  clusters: readonly string[];
}

/** One value that changes. `from` undefined: the key was not there. */
export interface Change {
  cluster: string;
  key: 'server' | 'tls-server-name';
  from: string | undefined;
  to: string;
}

export interface Rewrite {
  text: string;
  changes: Change[];
}

const TLS_SERVER_NAME = 'tls-server-name';

/** A replacement of the text between two offsets. */
interface Splice {
  start: number;
  end: number;
  text: string;
}

/**
 * Points the clusters of a kubeconfig at the proxy: `server` set to the target URL and
 * `tls-server-name` set (added after `server` when missing). The text is edited in place, at
 * the positions of those two values only, so comments, key order, quoting and indentation stay
 * byte for byte. The result is parsed again and compared with the original: anything but the
 * intended values differing is refused.
 */
export function rewriteKubeconfig(source: KubeconfigDocument, target: RewriteTarget): Rewrite {
  const chosen = chooseClusters(source, target.clusters);
  const splices: Splice[] = [];
  const changes: Change[] = [];
  for (const cluster of chosen) {
    const server = cluster.serverValue;
    if (server.value !== target.server) {
      changes.push({ cluster: cluster.name, key: 'server', from: String(server.value), to: target.server });
      splices.push(replaceScalar(server, target.server, cluster.map.flow === true));
    }
    const existing = cluster.map.items.find((pair) => isScalar(pair.key) && pair.key.value === TLS_SERVER_NAME);
    if (existing) {
      const value = existing.value;
      if (value !== null && !isScalar(value)) {
        throw new ConfigError(`${source.file}: clusters[${cluster.index}].cluster.${TLS_SERVER_NAME}`, undefined,
          'is not a string: write it as one (e.g. kubernetes) to have it rewritten');
      }
      const current = isScalar(value) && value.value !== null ? String(value.value) : undefined;
      if (current === target.tlsServerName) continue;
      changes.push({ cluster: cluster.name, key: TLS_SERVER_NAME, from: current, to: target.tlsServerName });
      // `tls-server-name:` with nothing after it has an empty value node: the value is inserted.
      const range = isScalar(value) ? value.range : undefined;
      const written = isScalar(value) && range !== undefined && range !== null && range[1] > range[0];
      splices.push(written ? replaceScalar(value, target.tlsServerName, cluster.map.flow === true)
        : valueAfterKey(source.text, existing, target.tlsServerName, cluster.map.flow === true));
    } else {
      changes.push({ cluster: cluster.name, key: TLS_SERVER_NAME, from: undefined, to: target.tlsServerName });
      splices.push(pairAfter(source.text, cluster, target.tlsServerName));
    }
  }
  const text = applySplices(source.text, splices);
  verify(source, text, chosen, target);
  return { text, changes };
}

function chooseClusters(source: KubeconfigDocument, names: readonly string[]): ClusterEntry[] {
  if (names.length === 0) return [...source.clusters];
  const known = source.clusters.map((c) => c.name);
  for (const name of names) {
    if (!known.includes(name)) throw new ConfigError('--cluster', name, `is not a cluster of ${source.file} (it has ${known.join(', ')})`);
  }
  return source.clusters.filter((c) => names.includes(c.name));
}

/** Replaces a scalar's text, keeping its quoting style; `flow`: it is inside {...}. */
function replaceScalar(node: Scalar, value: string, flow: boolean): Splice {
  const [start, end] = rangeOf(node);
  const type = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? node.type : 'PLAIN';
  return { start, end, text: scalarText(value, type, flow) };
}

/** `tls-server-name:` with no value: the value goes after the colon. */
function valueAfterKey(text: string, pair: Pair, value: string, flow: boolean): Splice {
  const key = pair.key;
  if (!isScalar(key)) throw new Error('a tls-server-name key that is not a scalar');
  const [, keyEnd] = rangeOf(key);
  const colon = text.indexOf(':', keyEnd);
  return { start: colon + 1, end: colon + 1, text: ` ${scalarText(value, 'PLAIN', flow)}` };
}

/** A new `tls-server-name` pair right after `server`, in the style of the `server` pair. */
function pairAfter(text: string, cluster: ClusterEntry, value: string): Splice {
  const key = cluster.serverKey;
  const serverValue = cluster.serverValue;
  const [keyStart] = rangeOf(key);
  const [, valueEnd] = rangeOf(serverValue);
  const keyText = scalarText(TLS_SERVER_NAME, key.type ?? 'PLAIN', cluster.map.flow === true);
  const valueText = scalarText(value, serverValue.type ?? 'PLAIN', cluster.map.flow === true);
  if (cluster.map.flow) return { start: valueEnd, end: valueEnd, text: `, ${keyText}: ${valueText}` };
  // Block mapping: a line of its own at the column of `server`, after any comment on that line.
  const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
  const newline = text.indexOf('\n', valueEnd);
  const lineEnd = newline < 0 ? text.length : text[newline - 1] === '\r' ? newline - 1 : newline;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  return { start: lineEnd, end: lineEnd, text: `${eol}${' '.repeat(keyStart - lineStart)}${keyText}: ${valueText}` };
}

function rangeOf(node: Scalar): [number, number] {
  const range = node.range;
  if (!range) throw new Error('a parsed node without a source range');
  return [range[0], range[1]];
}

/**
 * `value` written as a scalar of `type`. A plain scalar stays plain only when it reads back as
 * the same string (in a flow collection too, if it is in one); otherwise it is double-quoted.
 */
function scalarText(value: string, type: Scalar.Type, flow: boolean): string {
  switch (type) {
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value);
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`;
    default: {
      const readsBack = (doc: string, pick: (parsed: unknown) => unknown): boolean => {
        try {
          return pick(parse(doc)) === value;
        } catch {
          return false;
        }
      };
      const plain = readsBack(`k: ${value}\n`, (p) => (isObject(p) ? p['k'] : undefined)) &&
        (!flow || readsBack(`{k: ${value}, j: 1}`, (p) => (isObject(p) ? p['k'] : undefined)));
      return plain ? value : JSON.stringify(value);
    }
  }
}

function applySplices(text: string, splices: Splice[]): string {
  let out = text;
  for (const splice of [...splices].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, splice.start) + splice.text + out.slice(splice.end);
  }
  return out;
}

/** The rewritten text must read as the original with exactly the intended values changed. */
function verify(source: KubeconfigDocument, text: string, chosen: readonly ClusterEntry[], target: RewriteTarget): void {
  const expected = structuredClone(source.data);
  const clusters = expected['clusters'];
  if (Array.isArray(clusters)) {
    for (const entry of chosen) {
      const item: unknown = clusters[entry.index];
      const cluster = isObject(item) ? item['cluster'] : undefined;
      if (isObject(cluster)) {
        cluster['server'] = target.server;
        cluster[TLS_SERVER_NAME] = target.tlsServerName;
      }
    }
  }
  let actual: unknown;
  try {
    actual = parseKubeconfig(text, source.file).data;
  } catch {
    actual = undefined;
  }
  if (!isDeepStrictEqual(normalise(actual), normalise(expected))) {
    // A file this edit cannot handle: refused like any other the command cannot rewrite (exit 2).
    throw new ConfigError(source.file, undefined, 'the rewritten text does not read back as intended; nothing was written');
  }
}

/** Key order does not matter for the comparison: an added key is appended in the data. */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (isObject(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, normalise(value[k])]));
  return value;
}
