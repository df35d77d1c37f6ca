import type { CST } from 'yaml';
import { yaml } from '../lazy-yaml.js';

/** Far deeper than any config file or kubeconfig (under 10 levels), far from exhausting the stack. */
export const MAX_YAML_DEPTH = 64;

const MAX_OPEN_BRACKETS = 1024;

/**
 * How deeply collections nest in YAML `text`. yaml turns text into a document recursively, one
 * call per level, so a file nested tens of thousands deep exhausts the call stack; V8 then may
 * abort the whole process ("RegExpCompiler Allocation failed") instead of throwing, and a
 * config reload would kill the proxy. yaml's first stage (the CST parser) keeps a stack of its
 * own, and so does this walk over its tokens: measuring is safe at any depth.
 */
export function yamlDepth(text: string): number {
  // The CST parser itself slows down worse than linearly on flow nesting ([[[[...: seconds for a
  // megabyte). Brackets opened and not closed, counted as if none were quoted, bound the flow
  // depth from above; a run of more than a thousand is no config, and is refused unparsed.
  if (tooManyOpenBrackets(text)) return Number.POSITIVE_INFINITY;
  let deepest = 0;
  const pending: Array<{ token: CST.Token; depth: number }> = [];
  for (const token of new (yaml().Parser)().parse(text)) pending.push({ token, depth: 0 });
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { token } = next;
    const push = (child: CST.Token | null | undefined, depth: number): void => {
      if (child) pending.push({ token: child, depth });
    };
    switch (token.type) {
      case 'document':
        push(token.value, next.depth);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const depth = next.depth + 1;
        deepest = Math.max(deepest, depth);
        for (const item of token.items) {
          push(item.key, depth);
          push(item.value, depth);
        }
        break;
      }
      default:
        break;
    }
  }
  return deepest;
}

/** Whether more than MAX_OPEN_BRACKETS `[` and `{` are ever open at once (closing ones never below zero). */
function tooManyOpenBrackets(text: string): boolean {
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++open > MAX_OPEN_BRACKETS) return true;
    } else if ((c === 0x5d || c === 0x7d) && open > 0) {
      open--;
    }
  }
  return false;
}
