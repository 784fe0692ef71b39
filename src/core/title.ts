/**
 * The title grammar people type into a calendar app (see docs/events.md).
 *
 *   [tag]… user [word…] [: note]
 *
 * user: a unix-like name [a-z_][a-z0-9_.-]* (≤ 32, case-folded). Words after the user, before
 * the colon: mode keywords (exclusive|excl|exclusively → exclusive; shared|share → shared),
 * `hog` (implies exclusive), or a comma list of resources, each a name ending in a digit
 * (gpu0, nvme1, gpu0,gpu1). Anything else before the colon makes the whole title an
 * announcement. After the colon: the note — unless it consists only of keywords/resources
 * (`alice: exclusive`), then those are read as tags. Leading `[exclusive]`, `[shared]`, `[hog]`
 * tags are allowed. A lone capitalised word ("Reboot") is an announcement; a lone lowercase
 * word ("reboot") is a claim by that user. CATEGORIES exclusive/shared/hog count when the title
 * has no mode/hog keyword of its own; they (and `claim`) make a capitalised lone word a claim;
 * CATEGORIES announcement forces an announcement.
 */
import type { Mode } from './types.js';
import { cleanText } from './sanitize.js';

export type TitleParse =
  | { kind: 'claim'; user: string; mode: Mode; hog: boolean; resources: string[]; note: string }
  | { kind: 'announcement'; text: string };

export interface TitleClaim {
  user: string;
  mode: Mode;
  hog: boolean;
  resources: string[];
  note: string;
}

/**
 * A user name as useradd allows it, case kept: "Secdave" and "secdave" are two users, so a
 * name is never lower-cased (keywords and resources are).
 */
export const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const RESOURCE = /^[a-z][a-z0-9_.-]*[0-9]$/;
const EXCL = new Set(['exclusive', 'excl', 'exclusively']);
const SHARED = new Set(['shared', 'share']);
const HOG = new Set(['hog']);

type Tag = { mode?: Mode; hog?: boolean; resources?: string[] };

function keyword(w: string): Tag | null {
  const l = w.toLowerCase();
  if (EXCL.has(l)) return { mode: 'exclusive' };
  if (SHARED.has(l)) return { mode: 'shared' };
  if (HOG.has(l)) return { hog: true };
  return null;
}

function resourceList(w: string): string[] | null {
  const items = w
    .toLowerCase()
    .split(',')
    .filter((x) => x !== '');
  if (items.length === 0) return null;
  return items.every((x) => RESOURCE.test(x) && x.length <= 64) ? items : null;
}

/** Parse a run of words into tags, or null if any word is not a tag. */
function tagWords(words: string[]): Tag[] | null {
  const out: Tag[] = [];
  for (const w of words) {
    const k = keyword(w);
    if (k) {
      out.push(k);
      continue;
    }
    const r = resourceList(w);
    if (r) {
      out.push({ resources: r });
      continue;
    }
    return null;
  }
  return out;
}

function splitWords(s: string): string[] {
  // "gpu0, gpu1" → "gpu0,gpu1"
  return s
    .replace(/\s*,\s*/g, ',')
    .split(/\s+/)
    .filter((w) => w !== '');
}

export function parseTitle(summary: string, categories: string[]): TitleParse {
  const text = cleanText(summary, 10_000);
  const cats = categories
    .flatMap((c) => String(c).split(','))
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean);
  const announce = { kind: 'announcement' as const, text: cleanText(text) };
  if (cats.includes('announcement')) return announce;

  const catTags: Tag[] = [];
  for (const c of cats) {
    const k = keyword(c);
    if (k) catTags.push(k);
  }
  const catClaim = catTags.length > 0 || cats.includes('claim');
  const tags: Tag[] = [];

  let rest = text;
  let prefixed = false;
  for (;;) {
    const m = /^\[([^\]]*)\]\s*/.exec(rest);
    if (!m) break;
    const t = tagWords(splitWords(m[1]));
    if (!t || t.length === 0) return announce;
    tags.push(...t);
    prefixed = true;
    rest = rest.slice(m[0].length);
  }

  const colon = rest.indexOf(':');
  const head = colon >= 0 ? rest.slice(0, colon) : rest;
  let note = colon >= 0 ? rest.slice(colon + 1).trim() : '';
  const words = splitWords(head);
  if (words.length === 0) return announce;
  const [userWord, ...more] = words;
  const user = userWord;
  if (!USER.test(user)) return announce;
  const headTags = tagWords(more);
  if (!headTags) return announce;
  tags.push(...headTags);

  if (note) {
    const noteTags = tagWords(splitWords(note));
    if (noteTags && noteTags.some((t) => t.mode || t.hog)) {
      tags.push(...noteTags);
      note = '';
    }
  }

  // A capitalised lone word ("Reboot", "Maintenance") reads as an announcement unless something
  // marks it as a claim (a keyword, a resource, a [tag], or CATEGORIES).
  const marked = more.length > 0 || prefixed || catClaim || tags.length > 0;
  if (/[A-Z]/.test(userWord) && !marked) return announce;

  let mode: Mode = 'shared';
  let hog = false;
  const resources: string[] = [];
  // Keywords in the title win over CATEGORIES; categories count only when the title has none.
  const titleSaysMode = tags.some((t) => t.mode || t.hog);
  for (const t of titleSaysMode ? tags : [...tags, ...catTags]) {
    if (t.mode === 'exclusive') mode = 'exclusive';
    if (t.hog) hog = true;
    for (const r of t.resources ?? []) if (!resources.includes(r)) resources.push(r);
  }
  if (hog) mode = 'exclusive';
  return { kind: 'claim', user, mode, hog, resources, note: cleanText(note) };
}

/** The human title hosthog writes; parseTitle(formatTitle(x), []) gives x back. */
export function formatTitle(c: TitleClaim): string {
  const parts = [c.user];
  if (c.hog) parts.push('hog');
  else if (c.mode === 'exclusive') parts.push('exclusive');
  if (c.resources.length) parts.push(c.resources.map((r) => r.toLowerCase()).join(','));
  let s = parts.join(' ');
  const note = cleanText(c.note);
  if (note) s += `: ${note}`;
  return s;
}
