/**
 * The candidate an operator most likely meant by `word` (a mistyped key, flag or variable), or
 * undefined when none is close. In order: equal but for case and separators; `word` abbreviates
 * it (`prio`); at most two edits apart (`intervall`); `word` extends it (`backends`,
 * `listen-address`).
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const fold = (text: string) => text.toLowerCase().replace(/[-_.]/g, '');
  const lower = word.toLowerCase();
  const exact = candidates.find((candidate) => fold(candidate) === fold(word));
  if (exact !== undefined) return exact;
  const abbreviated = candidates.find((candidate) => word.length >= 3 && candidate.toLowerCase().startsWith(lower));
  if (abbreviated !== undefined) return abbreviated;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  const extended = candidates.filter((candidate) => candidate.length >= 4 && lower.startsWith(candidate.toLowerCase()));
  return extended.sort((a, b) => b.length - a.length)[0];
}

/** Levenshtein distance: insertions, deletions and substitutions of one character each cost 1. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
