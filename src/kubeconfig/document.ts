import { readFileSync } from 'node:fs';
import type { Document, Scalar, YAMLMap } from 'yaml';
import { yaml } from '../lazy-yaml.js';
import { ConfigError } from '../config/config-error.js';
import { describeFileError } from '../config/file-access.js';
import { MAX_YAML_DEPTH, yamlDepth } from '../config/yaml-depth.js';
import { isObject } from '../json.js';

/** Aliases in a kubeconfig are expanded when read; this bounds a "billion laughs" file. */
const MAX_ALIAS_COUNT = 100;

/** A kubeconfig as text and as a YAML document whose nodes know where they are in the text. */
export interface KubeconfigDocument {
  /** The file, as messages name it. */
  readonly file: string;
  readonly text: string;
  readonly document: Document.Parsed;
  /** The document as plain data (aliases expanded). */
  readonly data: Readonly<Record<string, unknown>>;
  readonly clusters: readonly ClusterEntry[];
}

/** One entry of `clusters`, with the nodes an edit needs. */
export interface ClusterEntry {
  /** Position in `clusters`, for messages (`clusters[1].cluster.server`). */
  readonly index: number;
  /** The entry's `name`, or `#<index>` when it has none. */
  readonly name: string;
  /** The `cluster:` mapping. */
  readonly map: YAMLMap;
  /** The `server` key. */
  readonly serverKey: Scalar;
  /** Its value: a plain or quoted scalar holding a string. */
  readonly serverValue: Scalar;
}

/** Reads and parses `file`; see {@link parseKubeconfig}. `where` names the flag that gave the path. */
export function readKubeconfig(file: string, where: string): KubeconfigDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(where, file, `cannot be read: ${describeFileError(err)}`);
  }
  return parseKubeconfig(text, file);
}

/**
 * Parses kubeconfig text. Throws a ConfigError naming the file (and line, or key) for anything
 * that is not a kubeconfig with at least one cluster whose `server` is a scalar: a file that
 * cannot be understood must not be rewritten.
 */
export function parseKubeconfig(text: string, file: string): KubeconfigDocument {
  const { isMap, parseAllDocuments } = yaml();
  if (yamlDepth(text) > MAX_YAML_DEPTH) throw new ConfigError(file, undefined, `nests collections more than ${MAX_YAML_DEPTH} levels deep: not a kubeconfig`);
  // logLevel error: yaml's warnings would go to stderr, beside the command's own lines.
  const documents = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  const [document, second] = documents;
  if (second) throw new ConfigError(file, undefined, 'holds more than one YAML document: a kubeconfig is one');
  if (!document) throw new ConfigError(file, undefined, 'is empty: not a kubeconfig');
  const [syntaxError] = document.errors;
  if (syntaxError) {
    const [start] = syntaxError.linePos ?? [];
    throw new ConfigError(start ? `${file}:${start.line}:${start.col}` : file, undefined, `not valid YAML: ${withoutQuotes(syntaxError.message)}`);
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    throw new ConfigError(file, undefined, `not valid YAML: ${withoutQuotes(err instanceof Error ? err.message : String(err))}`);
  }
  if (!isObject(data) || !isMap(document.contents)) {
    throw new ConfigError(file, undefined, 'is not a kubeconfig: expected a mapping with clusters, users and contexts');
  }
  if (data['kind'] !== undefined && data['kind'] !== 'Config') throw new ConfigError(`${file}: kind`, data['kind'], 'is not Config: not a kubeconfig');
  return { file, text, document, data, clusters: clusterEntries(document.contents, file) };
}

function clusterEntries(root: YAMLMap, file: string): ClusterEntry[] {
  const { isMap, isScalar, isSeq } = yaml();
  const clusters = root.get('clusters', true);
  if (clusters === undefined || clusters === null) throw new ConfigError(`${file}: clusters`, undefined, 'missing: a kubeconfig names at least one cluster');
  if (!isSeq(clusters) || clusters.items.length === 0) throw new ConfigError(`${file}: clusters`, undefined, 'is not a list of clusters (clusters: [{name: ..., cluster: {server: ...}}])');
  return clusters.items.map((item, index) => {
    const at = `${file}: clusters[${index}]`;
    if (!isMap(item)) throw new ConfigError(at, undefined, 'is not a mapping with name and cluster');
    const nameNode = item.get('name', true);
    const name = isScalar(nameNode) && typeof nameNode.value === 'string' ? nameNode.value : `#${index}`;
    const map = item.get('cluster', true);
    if (!isMap(map)) throw new ConfigError(`${at}.cluster`, undefined, 'missing: no mapping with the cluster\'s server');
    const server = map.items.find((pair) => isScalar(pair.key) && pair.key.value === 'server');
    if (!server || !isScalar(server.key)) throw new ConfigError(`${at}.cluster.server`, undefined, 'missing');
    const value = server.value;
    if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') {
      throw new ConfigError(`${at}.cluster.server`, isScalar(value) ? value.value : undefined, 'is not a URL (e.g. https://10.0.0.10:6443)');
    }
    if (value.type === 'BLOCK_FOLDED' || value.type === 'BLOCK_LITERAL') {
      throw new ConfigError(`${at}.cluster.server`, value.value, 'is a block scalar (| or >): write it on one line to have it rewritten');
    }
    return { index, name, map, serverKey: server.key, serverValue: value };
  });
}


/**
 * yaml's message without what it quotes from the file. Its first line may end in text from the
 * file (`Unresolved alias ...: <name>`, `Invalid escape sequence <escape>`), the lines after it
 * show the line at fault, and a kubeconfig holds tokens and keys: a typo next to a token must
 * not print the token. The position is given apart.
 */
function withoutQuotes(message: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  return (first.split(': ')[0] ?? first).replace(/:$/, '').replace(/^(Invalid escape sequence|Unknown directive|Unsupported YAML version|Plain value cannot start with) .*$/, '$1');
}
