/**
 * A kube-apiserver imitation for tests: real TLS, HTTP/2 and HTTP/1.1, the health, auth,
 * shutdown and watch behaviour of reference list (a), the real apiserver's slow etcd checks,
 * start-up phase, graceful shutdown and RBAC for the `kubernetes` endpoints, and faults
 * (crash, blackhole, slow, stalled watches). See server.ts for the API and cli.ts for running it as a process.
 */
export { startFakeApiserver, FakeApiserver, type FakeApiserverOptions } from './server.js';
export { makeClusterPki, KUBEADM_SANS, type ClusterPki, type ClusterPkiOptions, type Sans } from './cluster-pki.js';
export { KubernetesEndpoints, type AdvertisedEndpoint } from './endpoints.js';
export { PodStore, type Pod, type PodEvent, type PodEventType, type NewPod } from './pods.js';
export type { AnonymousMode, User } from './auth.js';
export type { Counters } from './connections.js';
export { REAL_STARTUP, type LifecycleState, type ShutdownOptions, type ShutdownProgress, type StartupTiming } from './lifecycle.js';
export { LeaseReconciler } from './reconciler.js';
export { parseRbac, type RbacObject } from './rbac.js';
export { ETCD_ERROR } from './etcd.js';
export { checkNames, type HealthRoot } from './health.js';
export { kubeconfig, type KubeconfigOptions } from './kubeconfig.js';
export { h1Request, h2Connect, h2Request, tcpConnect, waitFor, type Answer, type Target } from './clients.js';
