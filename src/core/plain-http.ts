/**
 * http:// to another machine sends the calendar password (Basic auth) and every event in clear
 * text: hosthog warns (bridge log at start, doctor) but does not refuse, since a lab may run its
 * server on a trusted network. Loopback is fine. Pure.
 */
export function plainHttpWarning(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:') return null;
  const h = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1')
    return null;
  return (
    `[calendar] url uses plain http:// to ${u.host}: ` +
    'the password and every event cross the network unencrypted'
  );
}
