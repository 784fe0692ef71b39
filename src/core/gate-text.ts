/**
 * The gate's lines in the host's sshd wiring, as text edits. Pure: src/host/hog/gate.ts reads and
 * writes the files. The gate (docs/admin.md):
 *  - /etc/pam.d/sshd: one `account required pam_listfile.so … file=GATE/allow onerr=succeed` line
 *    before `@include common-account`. sshd runs the PAM account phase for every login method
 *    (UsePAM yes): key, password, keyboard-interactive, certificates, AuthorizedKeysCommand,
 *    hostbased, GSSAPI. No allow file (no hog) → pam_listfile fails open (onerr=succeed).
 *  - /etc/ssh/sshd_config.d/hosthog.conf: `Banner GATE/banner` (empty file outside a hog: no banner).
 */

export const PAM_TAG = '# hosthog gate';
export const DROP_IN = '/etc/ssh/sshd_config.d/hosthog.conf';

export function pamLine(gateDir: string): string {
  return `account required pam_listfile.so item=user sense=allow file=${gateDir}/allow onerr=succeed`;
}

export function dropInText(gateDir: string): string {
  return (
    `${PAM_TAG}: sshd shows the hog message before login (an empty file shows nothing)\n` +
    `Banner ${gateDir}/banner\n`
  );
}

const isAccountInclude = (l: string) =>
  /^\s*@include\s+common-account\b/.test(l) || /^\s*-?account\s/.test(l);
const isOurs = (l: string) =>
  l.startsWith(PAM_TAG) || (/pam_listfile\.so.*\/allow\b.*onerr=succeed/.test(l) && /hosthog/.test(l));

/** /etc/pam.d/sshd with the gate line (once) before the first account line; idempotent. */
export function withPamLine(text: string, gateDir: string): string {
  const lines = text.split('\n').filter((l) => !isOurs(l) && l.trim() !== pamLine(gateDir));
  const i = lines.findIndex(isAccountInclude);
  const ours = [
    `${PAM_TAG}: during a hog only the users in the allow file get in (hosthog gate setup)`,
    pamLine(gateDir),
  ];
  if (i < 0) lines.splice(lines.length - (lines[lines.length - 1] === '' ? 1 : 0), 0, ...ours);
  else lines.splice(i, 0, ...ours);
  return lines.join('\n');
}

/** /etc/pam.d/sshd without the gate's lines (undo). */
export function withoutPamLine(text: string, gateDir: string): string {
  return text
    .split('\n')
    .filter((l) => !isOurs(l) && l.trim() !== pamLine(gateDir))
    .join('\n');
}

/**
 * What is wrong with the PAM file, or null: the line present, not commented, before every other
 * account line.
 */
export function pamProblem(text: string, gateDir: string): string | null {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim().replace(/\s+/g, ' ') === pamLine(gateDir));
  if (at < 0) return `no "${pamLine(gateDir)}" line`;
  const first = lines.findIndex(isAccountInclude);
  if (first >= 0 && first < at) return 'the gate line comes after another account line (it must come first)';
  return null;
}

/** Does sshd_config include the drop-in (Debian's `Include /etc/ssh/sshd_config.d/*.conf`)? */
export function includesDropIn(sshdConfig: string): boolean {
  return sshdConfig.split('\n').some((l) => {
    const m = /^\s*Include\s+(.+)$/i.exec(l);
    return (
      !!m &&
      m[1]
        .split(/\s+/)
        .some((p) => p === DROP_IN || p === '/etc/ssh/sshd_config.d/*.conf' || p === 'sshd_config.d/*.conf')
    );
  });
}

/** `sshd -T` lines as a map (keys lower case). */
export function parseSshdT(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0 && !m.has(line.slice(0, i).toLowerCase()))
      m.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

/** The login methods this sshd offers (from `sshd -T`), named for doctor. */
export function loginMethods(t: Map<string, string>): string[] {
  const on = (k: string) => t.get(k) === 'yes';
  const out: string[] = [];
  if (on('pubkeyauthentication')) out.push('publickey');
  if (on('passwordauthentication')) out.push('password');
  if (on('kbdinteractiveauthentication') || on('challengeresponseauthentication'))
    out.push('keyboard-interactive');
  if ((t.get('trustedusercakeys') ?? 'none') !== 'none') out.push('certificates (TrustedUserCAKeys)');
  if ((t.get('authorizedkeyscommand') ?? 'none') !== 'none') out.push('AuthorizedKeysCommand');
  if (on('hostbasedauthentication')) out.push('hostbased');
  if (on('gssapiauthentication')) out.push('GSSAPI');
  if (on('kerberosauthentication')) out.push('Kerberos');
  return out;
}
