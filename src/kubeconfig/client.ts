import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { describeFileError } from '../config/file-access.js';
import { readKubeconfig } from './document.js';
import { isObject } from '../json.js';

/** The credential a kubeconfig's user presents. Contents are never printed. */
export type ClientCredential =
  | { kind: 'client-cert'; certPem: string; keyPem: string }
  | { kind: 'token'; token: string }
  | { kind: 'none' };

/** What a client using the current context of a kubeconfig would do (client-go's view). */
export interface ClientView {
  file: string;
  cluster: string;
  /** The cluster's `server` URL as written. */
  server: string;
  /** `tls-server-name`, when set: the name verified instead of the URL's host. */
  tlsServerName: string | undefined;
  /** The CA bundle (PEM) from certificate-authority-data or -authority; undefined: system roots. */
  caPem: string | undefined;
  insecureSkipVerify: boolean;
  credential: ClientCredential;
  /** The files the view was read from besides the kubeconfig (CA, certificate, key, token): a change to any is a new credential. */
  referencedFiles: string[];
}

/**
 * Reads the current context of kubeconfig `file` (or its only context, or only cluster) as a
 * client would. Relative file paths are relative to the kubeconfig's directory, as kubectl reads
 * them. Throws a ConfigError naming the file and key for anything missing or unreadable.
 */
export function readClientView(file: string, where: string): ClientView {
  const { data } = readKubeconfig(file, where);
  const contexts = namedList(data['contexts']);
  const current = typeof data['current-context'] === 'string' && data['current-context'] !== '' ? data['current-context'] : undefined;
  let context: Record<string, unknown> | undefined;
  if (current !== undefined) {
    context = contexts.find((c) => c.name === current)?.value;
    if (!context) throw new ConfigError(`${file}: current-context`, current, 'names no entry of contexts');
  } else if (contexts.length === 1) {
    context = contexts[0]?.value;
  }
  const clusters = namedList(data['clusters']);
  const users = namedList(data['users']);
  const clusterName = typeof context?.['cluster'] === 'string' ? context['cluster'] : clusters.length === 1 ? clusters[0]?.name : undefined;
  const clusterIndex = clusters.findIndex((c) => c.name === clusterName);
  const cluster = clusters[clusterIndex];
  if (!cluster) throw new ConfigError(`${file}: current-context`, current, 'does not lead to a cluster (set current-context, or keep one cluster)');
  const userName = typeof context?.['user'] === 'string' ? context['user'] : users.length === 1 ? users[0]?.name : undefined;
  const userIndex = users.findIndex((u) => u.name === userName);
  const user = users[userIndex]?.value ?? {};

  const base = dirname(resolve(file));
  const referencedFiles: string[] = [];
  const at = (list: string, index: number, key: string): string => `${file}: ${list}[${index}].${list.slice(0, -1)}.${key}`;
  const fromData = (value: unknown, where: string): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new ConfigError(where, '<redacted>', 'is not base64 text');
    return Buffer.from(value, 'base64').toString('utf8');
  };
  const fromFile = (value: unknown, where: string): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new ConfigError(where, value, 'is not a file path');
    const path = resolve(base, value);
    referencedFiles.push(path);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(where, value, `cannot be read: ${describeFileError(err)}`);
    }
  };
  const c = cluster.value;
  const server = c['server'];
  if (typeof server !== 'string' || server === '') throw new ConfigError(at('clusters', clusterIndex, 'server'), server, 'is not a URL');
  const tlsServerName = typeof c['tls-server-name'] === 'string' && c['tls-server-name'] !== '' ? c['tls-server-name'] : undefined;
  const caPem = fromData(c['certificate-authority-data'], at('clusters', clusterIndex, 'certificate-authority-data')) ??
    fromFile(c['certificate-authority'], at('clusters', clusterIndex, 'certificate-authority'));

  const certPem = fromData(user['client-certificate-data'], at('users', userIndex, 'client-certificate-data')) ??
    fromFile(user['client-certificate'], at('users', userIndex, 'client-certificate'));
  const keyPem = fromData(user['client-key-data'], at('users', userIndex, 'client-key-data')) ??
    fromFile(user['client-key'], at('users', userIndex, 'client-key'));
  const token = typeof user['token'] === 'string' && user['token'] !== ''
    ? user['token']
    : fromFile(user['tokenFile'], at('users', userIndex, 'tokenFile'))?.trim();
  let credential: ClientCredential = { kind: 'none' };
  if (certPem !== undefined && keyPem !== undefined) credential = { kind: 'client-cert', certPem, keyPem };
  else if (token !== undefined && token !== '') credential = { kind: 'token', token };

  return { file, cluster: cluster.name, server, tlsServerName, caPem, insecureSkipVerify: c['insecure-skip-tls-verify'] === true, credential,
    referencedFiles };
}

/** `[{name, cluster: {...}}]` as name and inner mapping; entries without either are skipped. */
function namedList(list: unknown): Array<{ name: string; value: Record<string, unknown> }> {
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry: unknown) => {
    if (!isObject(entry) || typeof entry['name'] !== 'string') return [];
    const inner = Object.entries(entry).find(([key, value]) => key !== 'name' && isObject(value))?.[1];
    return isObject(inner) ? [{ name: entry['name'], value: inner }] : [];
  });
}
