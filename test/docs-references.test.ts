// Cross-references between the repository's documents: a markdown link to a file and heading
// (`[..](file.md#anchor)`, GitHub's slug), and a reference in prose (`docs/x.md`, "Its title"
// or `docs/x.md`, section 3) name a file that exists and a heading it has.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The documents and the deploy files whose comments point into them. */
function sources(): string[] {
  const inDir = (dir: string, ending: RegExp): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).filter((e) => e.isFile() && ending.test(e.name)).map((e) => e.name).map((f) => join(ROOT, dir, f));
  return [join(ROOT, 'README.md'), join(ROOT, 'bench/README.md'), join(ROOT, 'test/real-cluster/README.md'),
    ...inDir('docs', /\.md$/), ...inDir('static-pod', /\.yaml$/), ...inDir('systemd', /\./), ...inDir('deploy/prometheus', /\.yaml$/)]
    .filter((f) => existsSync(f));
}

/** Fenced code is no prose: its `#` lines are comments, not headings. */
const prose = (text: string): string => text.replace(/^```[\s\S]*?^```$/gm, '');

/** A heading as it reads: without its backticks. */
const plain = (heading: string): string => heading.replaceAll('`', '').trim();

function headings(file: string): string[] {
  return [...prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) => plain(m[1] ?? ''));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const heading of headings(file)) {
    const slug = heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** Where a referenced document is: from the repository's root, else beside the referring file, else in docs/. */
function resolveDocument(name: string, from: string): string | undefined {
  return [join(ROOT, name), join(dirname(from), name), join(ROOT, 'docs', name)].find((f) => existsSync(f));
}

test('every markdown link to a document names a file that exists and a heading it has', () => {
  let links = 0;
  for (const file of sources().filter((f) => f.endsWith('.md'))) {
    for (const [, target] of prose(readFileSync(file, 'utf8')).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/.test(target)) continue;
      links += 1;
      const [path = '', anchor] = target.split('#');
      const where = `${relative(ROOT, file)}: (${target})`;
      const destination = path === '' ? file : join(dirname(file), path);
      assert.ok(existsSync(destination), `${where}: no such file`);
      if (anchor !== undefined && destination.endsWith('.md')) {
        assert.ok(anchors(destination).has(anchor), `${where}: no heading with the anchor #${anchor}`);
      }
    }
  }
  assert.ok(links >= 2, `links found: ${links}`);
});

test('every reference in prose to a document\'s section names a heading it has', () => {
  let references = 0;
  for (const file of sources()) {
    // One line of prose or of comments: line breaks and comment markers joined away.
    const text = prose(readFileSync(file, 'utf8')).replace(/\s*\n\s*(?:#\s*)?/g, ' ');
    for (const m of text.matchAll(/`?((?:[\w-]+\/)*[\w-]+\.md)`?,? (?:section (\d+)|"([^"]+)")/g)) {
      const [reference, name = '', number, title] = m;
      references += 1;
      const where = `${relative(ROOT, file)}: ${reference}`;
      const document = resolveDocument(name, file);
      assert.ok(document, `${where}: no such document`);
      const titles = headings(document);
      if (number !== undefined) {
        assert.ok(titles.some((h) => h.startsWith(`${number}. `)), `${where}: ${name} has no section ${number}`);
      } else {
        const wanted = plain(title ?? '');
        assert.ok(titles.some((h) => h === wanted || h.replace(/^\d+\. /, '') === wanted),
          `${where}: ${name} has no heading "${wanted}" (its headings: ${titles.join(' | ')})`);
      }
    }
  }
  assert.ok(references >= 8, `references found: ${references}`);
});
