import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../config/config-error.js';
import type { HealthConfig } from '../config/schema.js';
import { readClientView } from '../kubeconfig/client.js';

/** What a check sends to prove who it is, and what it trusts. Never logged. */
export interface ProbeCredentials {
  /** Extra request headers (Authorization for a bearer token). */
  headers: Record<string, string>;
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** Where the credential comes from, safe to log: a mode and file paths, no contents. */
  source: string;
  /** Changes whenever the contents change: the checker builds a new TLS agent then. */
  generation: string;
}

/** How long a credential is used before its files are looked at again. */
const RECHECK_MS = 1000;

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
}

/**
 * Loads the probe credential for the configured mode and re-reads it when a file behind it
 * changes (projected service-account tokens rotate; kubelet's client certificate rotates). One
 * instance serves every backend's checker; `current()` costs a few stat calls when nothing changed,
 * at most once a second: a check every 50 ms would otherwise wake the thread pool for each.
 */
export class CredentialSource {
  #cached: ProbeCredentials | undefined;
  #stamp = '';
  /** Files a kubeconfig refers to (kubelet.conf names a rotating client certificate). */
  #referenced: string[] = [];
  #loading: Promise<ProbeCredentials> | undefined;
  #checkedAt = -Infinity;

  constructor(private readonly health: HealthConfig) {}

  /** The mode and the files it reads, safe to log. */
  describe(): string {
    const h = this.health;
    switch (h.auth) {
      case 'anonymous':
        return 'anonymous';
      case 'token':
        return `bearer token from ${h.tokenFile ?? '?'}`;
      case 'client-cert':
        return `client certificate ${h.clientCertFile ?? '?'}`;
      case 'kubeconfig':
        return `kubeconfig ${h.kubeconfigFile ?? '?'}`;
    }
  }

  /** The files whose change means a re-read. */
  files(): string[] {
    const h = this.health;
    const list = [h.caFile];
    if (h.auth === 'token') list.push(h.tokenFile);
    if (h.auth === 'client-cert') list.push(h.clientCertFile, h.clientKeyFile);
    if (h.auth === 'kubeconfig') list.push(h.kubeconfigFile);
    return list.filter((f): f is string => typeof f === 'string' && f.length > 0);
  }

  async current(): Promise<ProbeCredentials> {
    if (this.#cached && performance.now() - this.#checkedAt < RECHECK_MS) return this.#cached;
    this.#checkedAt = performance.now();
    const stamp = await this.#stampOf([...this.files(), ...this.#referenced]);
    if (this.#cached && stamp === this.#stamp) return this.#cached;
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    const creds = await this.#loading;
    this.#cached = creds;
    // Stamped after loading, over what the load actually read.
    this.#stamp = await this.#stampOf([...this.files(), ...this.#referenced]);
    return creds;
  }

  async #stampOf(files: string[]): Promise<string> {
    const parts = await Promise.all(
      files.map(async (f) => {
        try {
          const s = await stat(f);
          return `${f}:${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          // A missing file is a state too: its reappearance must trigger a re-read.
          return `${f}:missing`;
        }
      }),
    );
    return parts.join('|');
  }

  async #load(): Promise<ProbeCredentials> {
    const h = this.health;
    let ca = h.caFile ? await readNamed(h.caFile, '--health-ca-file') : undefined;
    let cert: Buffer | undefined;
    let key: Buffer | undefined;
    const headers: Record<string, string> = {};
    let source: string = h.auth;
    switch (h.auth) {
      case 'anonymous':
        break;
      case 'token': {
        const file = required(h.tokenFile, '--health-token-file');
        headers['authorization'] = `Bearer ${await readToken(file, '--health-token-file')}`;
        source = `token file ${file}`;
        break;
      }
      case 'client-cert': {
        const certFile = required(h.clientCertFile, '--health-client-cert');
        const keyFile = required(h.clientKeyFile, '--health-client-key');
        cert = await readNamed(certFile, '--health-client-cert');
        key = await readNamed(keyFile, '--health-client-key');
        source = `client certificate ${certFile}`;
        break;
      }
      case 'kubeconfig': {
        const file = required(h.kubeconfigFile, '--health-kubeconfig');
        let view;
        try {
          view = readClientView(file, '--health-kubeconfig');
        } catch (err) {
          if (err instanceof ConfigError) throw new CredentialError(err.message);
          throw err;
        }
        this.#referenced = view.referencedFiles;
        if (view.caPem !== undefined) ca ??= Buffer.from(view.caPem);
        const c = view.credential;
        if (c.kind === 'client-cert') {
          cert = Buffer.from(c.certPem);
          key = Buffer.from(c.keyPem);
        } else if (c.kind === 'token') {
          headers['authorization'] = `Bearer ${c.token}`;
        }
        source = `kubeconfig ${file} (${c.kind === 'none' ? 'no credential' : c.kind})`;
        break;
      }
    }
    const hash = createHash('sha256');
    for (const part of [ca, cert, key, headers['authorization']]) hash.update(part ?? '-').update('\0');
    return { headers, ca, cert, key, source, generation: hash.digest('hex').slice(0, 16) };
  }
}

/**
 * The secret-holding files of the configured mode (a token, a client key, a kubeconfig, which
 * may hold either) that users other than the owner can read, with their mode, e.g. `0644`.
 * Certificates and CA bundles are public and not listed. A file that cannot be read is left to
 * the load, which reports it.
 */
export function exposedCredentialFiles(health: HealthConfig): Array<{ file: string; mode: string }> {
  const secrets = { anonymous: [], token: [health.tokenFile], 'client-cert': [health.clientKeyFile], kubeconfig: [health.kubeconfigFile] }[health.auth];
  return secrets.flatMap((file) => {
    if (!file) return [];
    try {
      const mode = statSync(file).mode & 0o777;
      return mode & 0o044 ? [{ file, mode: mode.toString(8).padStart(4, '0') }] : [];
    } catch {
      // Gone or unreadable: the credential load says so, with the flag's name.
      return [];
    }
  });
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new CredentialError(`${flag} is not set`);
  return value;
}

async function readNamed(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CredentialError(`${what}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function readToken(file: string, what: string): Promise<string> {
  const token = (await readNamed(file, what)).toString('utf8').trim();
  if (token.length === 0) throw new CredentialError(`${what}: ${file} is empty`);
  return token;
}
