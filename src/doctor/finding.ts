/**
 * One thing the doctor found: a fact that is fine, one worth a look, or a problem that stops
 * clients or checks from working. Every warning and problem says how to fix it.
 */
export type Finding =
  | { level: 'ok'; text: string }
  | { level: 'warn' | 'problem'; text: string; fix: string };

const LABELS: Record<Finding['level'], string> = { ok: 'ok     ', warn: 'warn   ', problem: 'PROBLEM' };

/** One line: the level, what was found and, unless it is fine, `; fix: ...`. */
export function formatFinding(finding: Finding): string {
  const line = `${LABELS[finding.level]} ${finding.text}`;
  return finding.level === 'ok' ? line : `${line}; fix: ${finding.fix}`;
}

/** The last line: how many problems and warnings. */
export function summary(findings: readonly Finding[]): string {
  const problems = findings.filter((f) => f.level === 'problem').length;
  const warnings = findings.filter((f) => f.level === 'warn').length;
  if (problems === 0 && warnings === 0) return 'doctor: no problem found';
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `doctor: ${plural(problems, 'problem')}, ${plural(warnings, 'warning')}`;
}
