import { parseAllDocuments } from 'yaml';
import type { User } from './auth.js';

/**
 * Role-based authorization of resource requests, as the RBAC authorizer decides them (K
 * plugin/pkg/auth/authorizer/rbac): a request is allowed when a ClusterRoleBinding, or a
 * RoleBinding in the request's namespace, names the user (or one of its groups, or its
 * service account) and the role it refers to has a rule matching verb, API group, resource
 * and name. system:masters may do anything. A binding whose role does not exist adds
 * `RBAC: role.rbac.authorization.k8s.io "x" not found` to the 403. The bootstrap roles grant
 * no resource to nodes or plain authenticated users beyond what auth.ts models (the Node
 * authorizer's rules have no endpoints or endpointslices).
 */

/** A PolicyRule (resource rules only). */
export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** A binding's subject. */
export interface Subject {
  readonly kind: 'User' | 'Group' | 'ServiceAccount';
  readonly name: string;
  readonly namespace?: string;
}

/** The four RBAC kinds, as manifests write them. */
export type RbacObject =
  | { readonly kind: 'Role'; readonly metadata: { readonly name: string; readonly namespace: string }; readonly rules: readonly PolicyRule[] }
  | { readonly kind: 'ClusterRole'; readonly metadata: { readonly name: string }; readonly rules: readonly PolicyRule[] }
  | { readonly kind: 'RoleBinding'; readonly metadata: { readonly name: string; readonly namespace: string };
    readonly roleRef: { readonly kind: 'Role' | 'ClusterRole'; readonly name: string }; readonly subjects?: readonly Subject[] }
  | { readonly kind: 'ClusterRoleBinding'; readonly metadata: { readonly name: string };
    readonly roleRef: { readonly kind: 'ClusterRole'; readonly name: string }; readonly subjects?: readonly Subject[] };

/** What a resource request asks for. */
export interface ResourceAttributes {
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** The RBAC objects of YAML or JSON manifests (several documents); other kinds are left out. */
export function parseRbac(text: string): RbacObject[] {
  const kinds = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);
  return parseAllDocuments(text).map((doc) => doc.toJS() as unknown)
    .filter((o): o is RbacObject => typeof o === 'object' && o !== null && kinds.has(String((o as { kind?: unknown }).kind)));
}

const matches = (list: readonly string[] | undefined, value: string): boolean => (list ?? []).some((item) => item === '*' || item === value);

function ruleAllows(rule: PolicyRule, a: ResourceAttributes): boolean {
  return matches(rule.verbs, a.verb) && matches(rule.apiGroups, a.apiGroup) && matches(rule.resources, a.resource)
    && (rule.resourceNames === undefined || rule.resourceNames.length === 0 || (a.name !== undefined && rule.resourceNames.includes(a.name)));
}

function appliesTo(subject: Subject, user: User, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User': return subject.name === user.name;
    case 'Group': return user.groups.includes(subject.name);
    case 'ServiceAccount': return user.name === `system:serviceaccount:${subject.namespace ?? bindingNamespace ?? ''}:${subject.name}`;
    default: return false;
  }
}

/** The RBAC objects of one imitated cluster. */
export class Rbac {
  readonly #objects: readonly RbacObject[];

  constructor(objects: readonly RbacObject[] = []) {
    this.#objects = objects;
  }

  /** Allowed, or denied with the reason RBAC appends to the 403 message (empty when none). */
  authorize(user: User, a: ResourceAttributes): { allowed: true } | { allowed: false; reason: string } {
    if (user.groups.includes('system:masters')) return { allowed: true };
    const errors: string[] = [];
    for (const binding of this.#objects) {
      if (binding.kind !== 'ClusterRoleBinding' && binding.kind !== 'RoleBinding') continue;
      const namespace = binding.kind === 'RoleBinding' ? binding.metadata.namespace : undefined;
      if (binding.kind === 'RoleBinding' && namespace !== a.namespace) continue;
      if (!(binding.subjects ?? []).some((s) => appliesTo(s, user, namespace))) continue;
      const role = this.#objects.find((o) => o.kind === binding.roleRef.kind && o.metadata.name === binding.roleRef.name
        && (o.kind !== 'Role' || o.metadata.namespace === namespace));
      if (!role || (role.kind !== 'Role' && role.kind !== 'ClusterRole')) {
        errors.push(`${binding.roleRef.kind.toLowerCase()}.rbac.authorization.k8s.io ${JSON.stringify(binding.roleRef.name)} not found`);
        continue;
      }
      if (role.rules.some((rule) => ruleAllows(rule, a))) return { allowed: true };
    }
    // utilerrors.NewAggregate: one error as itself, several in brackets.
    const reason = errors.length === 0 ? '' : `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`;
    return { allowed: false, reason };
  }
}
