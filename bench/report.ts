/** Write one benchmark's section into docs/benchmarks.md (between its markers), keeping the rest. */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export function writeSection(repo: string, name: string, body: string): void {
  const file = join(repo, 'docs/benchmarks.md');
  let doc = existsSync(file)
    ? readFileSync(file, 'utf8')
    : "# Benchmarks\n\nMeasured on this project's machines (Debian 12, Node 20, 2 cores). " +
      'Each section is rewritten by its script.\n';
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${begin}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc =
    i >= 0 && j > i
      ? doc.slice(0, i) + section + doc.slice(j + end.length)
      : doc.trimEnd() + '\n\n' + section + '\n';
  writeFileSync(file, doc);
}

export function machineLine(): string {
  const minute = new Date().toISOString().slice(0, 16);
  return `Node ${process.version}, ${process.platform}/${process.arch}, ${minute}Z`;
}
