import { randomUUID } from 'node:crypto';

/**
 * The objects behind LIST and WATCH: pods in namespaces, one resourceVersion counter (like
 * etcd's revision, shared by everything), and a bounded history of changes standing in for the
 * watch cache. Several imitations can share one store, as apiservers share etcd, so a client
 * that fails over resumes its watch from the same resourceVersion.
 */

/** A Pod as JSON (the fields a client reads; unknown fields are simply absent). */
export interface Pod {
  kind: 'Pod';
  apiVersion: 'v1';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
  };
  spec: { containers: { name: string; image: string; resources: Record<string, never> }[]; nodeName?: string; restartPolicy: 'Always' };
  status: {
    phase: string;
    startTime?: string;
    containerStatuses?: { name: string; ready: boolean; restartCount: number; image: string; started: boolean }[];
  };
}

/** What a watcher sees of one change. */
export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, with the resourceVersion it produced. */
export interface PodEvent {
  readonly type: PodEventType;
  readonly object: Pod;
  readonly resourceVersion: number;
}

/** Options of {@link PodStore.add}. */
export interface NewPod {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly nodeName?: string;
  readonly phase?: string;
}

/** See the file comment. */
export class PodStore {
  #resourceVersion: number;
  #pods = new Map<string, Pod>();
  #history: PodEvent[] = [];
  #oldest: number;
  #subscribers = new Set<(event: PodEvent) => void>();

  /** `historyLimit` is how many changes a watch can resume across before it gets 410. */
  constructor(readonly historyLimit = 1000, startResourceVersion = 1000) {
    this.#resourceVersion = startResourceVersion;
    this.#oldest = startResourceVersion;
  }

  /** The newest resourceVersion (a LIST's metadata.resourceVersion). */
  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  /** The oldest resourceVersion a watch can still start from. */
  get oldestResourceVersion(): number {
    return this.#oldest;
  }

  /** Creates a pod (ADDED); throws if it exists. */
  add(spec: NewPod): Pod {
    const namespace = spec.namespace ?? 'default';
    if (this.#pods.has(`${namespace}/${spec.name}`)) throw new Error(`pod ${namespace}/${spec.name} already exists`);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const phase = spec.phase ?? 'Running';
    const pod: Pod = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: spec.name, namespace, uid: randomUUID(), resourceVersion: '', creationTimestamp: now, ...(spec.labels ? { labels: { ...spec.labels } } : {}) },
      spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: {} }], ...(spec.nodeName ? { nodeName: spec.nodeName } : {}), restartPolicy: 'Always' },
      status: {
        phase,
        startTime: now,
        containerStatuses: [{ name: 'app', ready: phase === 'Running', restartCount: 0, image: 'registry.k8s.io/pause:3.10', started: phase === 'Running' }],
      },
    };
    return this.#commit('ADDED', pod);
  }

  /** Changes a pod in place through `mutate` (MODIFIED); throws if it does not exist. */
  update(namespace: string, name: string, mutate: (pod: Pod) => void): Pod {
    const current = this.#pods.get(`${namespace}/${name}`);
    if (!current) throw new Error(`pod ${namespace}/${name} does not exist`);
    const next = structuredClone(current);
    mutate(next);
    next.metadata.name = name;
    next.metadata.namespace = namespace;
    return this.#commit('MODIFIED', next);
  }

  /** Deletes a pod (DELETED); throws if it does not exist. */
  remove(namespace: string, name: string): Pod {
    const current = this.#pods.get(`${namespace}/${name}`);
    if (!current) throw new Error(`pod ${namespace}/${name} does not exist`);
    return this.#commit('DELETED', structuredClone(current));
  }

  /** One pod, or undefined. */
  get(namespace: string, name: string): Pod | undefined {
    const pod = this.#pods.get(`${namespace}/${name}`);
    return pod && structuredClone(pod);
  }

  /** Every pod (of one namespace when given), sorted by namespace and name as etcd keys are. */
  list(namespace?: string): Pod[] {
    return [...this.#pods.entries()]
      .filter(([, pod]) => namespace === undefined || pod.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, pod]) => structuredClone(pod));
  }

  /** Namespaces that exist: the system ones plus every namespace holding a pod. */
  namespaces(): string[] {
    const names = new Set(['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    for (const pod of this.#pods.values()) names.add(pod.metadata.namespace);
    return [...names].sort();
  }

  /** The changes after `resourceVersion`, or `expired` when the history no longer reaches it. */
  eventsSince(resourceVersion: number): PodEvent[] | 'expired' {
    if (resourceVersion < this.#oldest) return 'expired';
    return this.#history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** Forgets the history, as an etcd compaction does: watches from older versions get 410. */
  compact(): void {
    this.#history = [];
    this.#oldest = this.#resourceVersion;
  }

  /** Calls `listener` for every later change; returns the function that stops it. */
  subscribe(listener: (event: PodEvent) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  #commit(type: PodEventType, pod: Pod): Pod {
    this.#resourceVersion += 1;
    pod.metadata.resourceVersion = String(this.#resourceVersion);
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (type === 'DELETED') this.#pods.delete(key);
    else this.#pods.set(key, pod);
    const event: PodEvent = { type, object: structuredClone(pod), resourceVersion: this.#resourceVersion };
    this.#history.push(event);
    if (this.#history.length > this.historyLimit) {
      const dropped = this.#history.shift();
      if (dropped) this.#oldest = dropped.resourceVersion;
    }
    for (const listener of [...this.#subscribers]) listener(event);
    return structuredClone(pod);
  }
}
