/**
 * Canonical hrefs. Servers answer with hrefs that are absolute or relative, and percent-encoded
 * in whatever way they like ("%40" vs "@", "%7e" vs "~", lower- vs upper-case hex). The cache is
 * keyed on ONE form: the absolute path (pathname only, no scheme/host/query), each segment
 * decoded and re-encoded the same way. Two hrefs naming the same resource give the same string.
 */

/** Characters left as they are in a path segment (RFC 3986 unreserved + these sub-delims). */
const KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/** Decode a path segment; a malformed escape stays literal (and is then encoded as %25). */
function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const code = parseInt(hex, 16);
      return code < 0x80 ? String.fromCharCode(code) : m;
    });
  }
}

/** Encode a decoded segment uniformly: UTF-8, upper-case hex, KEEP characters literal. */
export function encodeSegment(seg: string): string {
  let out = '';
  for (const ch of seg) {
    if (KEEP.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * The canonical form of `href` as seen from the collection at `base` (a full URL):
 * an absolute path such as "/alice/host-1/ev%20one.ics".
 */
export function canonicalHref(href: string, base: string): string {
  // Fast path (a listing of 50,000 hrefs): an absolute path of characters kept as they are,
  // without "." or ".." segments, is its own canonical form.
  if (PLAIN.test(href) && !DOTS.test(href)) return href;
  const u = new URL(String(href).trim(), base);
  return u.pathname
    .split('/')
    .map((s) => encodeSegment(decodeSegment(s)))
    .join('/');
}

/** The full URL to request for a canonical (or any) href, resolved against the collection. */
export function hrefToUrl(href: string, base: string): string {
  const u = new URL(canonicalHref(href, base), base);
  return u.toString();
}

const PLAIN = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const DOTS = /(^|\/)\.\.?(\/|$)/;

let lastBase: { base: string; canonical: string } | null = null;
/** True when `href` names the collection `base` itself (with or without trailing slash). */
export function isCollectionHref(href: string, base: string): boolean {
  const strip = (s: string) => s.replace(/\/+$/, '');
  if (lastBase?.base !== base) lastBase = { base, canonical: strip(canonicalHref(base, base)) };
  return strip(canonicalHref(href, base)) === lastBase.canonical;
}

/** The last path segment, decoded (the object's file name, e.g. "abc.ics"). */
export function hrefName(href: string): string {
  const segs = href.split('/').filter(Boolean);
  return segs.length ? decodeSegment(segs[segs.length - 1]) : '';
}
