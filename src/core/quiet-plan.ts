/**
 * Quiet host: which systemd units a hog stops, from the config's patterns and the units systemd
 * lists as active. Pure; src/host/hog/quiet-host.ts carries it out and restores the units after.
 *
 * THE RULE (copied to docs/admin.md):
 *  - `[hog] quiet_units` holds unit names or glob patterns (`xrdp.service`, `*.timer`); only
 *    units that are ACTIVE when the hog starts are stopped, and exactly those are started again
 *    when it ends (a unit that was already stopped stays stopped).
 *  - Only services and timers are stopped. Never: the way in and the host's plumbing (ssh,
 *    hosthog's own bridge, dbus, systemd-*, logins and user managers, gettys), whatever the
 *    patterns say; such a unit is reported as refused.
 *  - Timers are stopped before services (so a timer cannot start its service again in between)
 *    and started after them.
 */

/** Unit names and glob patterns as systemd accepts them (no paths, no spaces, no options). */
const UNIT_PATTERN = /^[A-Za-z0-9@_.:\\*?[\]-]+$/;

export function isUnitPattern(p: string): boolean {
  return (
    p.length > 0 &&
    p.length <= 256 &&
    UNIT_PATTERN.test(p) &&
    !p.startsWith('-') &&
    /\.(service|timer)$|[*?[]/.test(p)
  );
}

const NEVER: [RegExp, string][] = [
  [/^(ssh|sshd|openssh-server|dropbear)(@.*)?\.service$/, 'it is the way in'],
  [/^hosthog/, "it is hosthog's own"],
  [/^(dbus|dbus-broker)\.service$/, 'the system bus'],
  [/^systemd-/, "systemd's own"],
  [/^(user|user-runtime-dir)@/, 'a user session'],
  [/^(getty|serial-getty|console-getty|container-getty|autovt)@/, 'a login prompt'],
  [
    new RegExp(
      '^(polkit|logind|networking|NetworkManager|network-online|ifup@|wpa_supplicant|' +
        'tailscaled|zerotier-one|wg-quick@|openvpn|strongswan|ipsec)',
    ),
    'the host would become unreachable or unmanageable',
  ],
  [
    /^(sssd|nslcd|nscd|winbind|autofs|nfs-|rpcbind|chrony|ntp|systemd-timesyncd)/,
    'logins, home directories or the clock depend on it',
  ],
  [
    /^(nftables|ufw|firewalld|netfilter-persistent|iptables|ip6tables|fail2ban|auditd|apparmor)/,
    'a firewall or security service',
  ],
];

export interface QuietPlan {
  /** Units to stop, in order (timers first). */
  stop: string[];
  /** Active units a pattern matched that hosthog will not stop, with why. */
  refused: { unit: string; why: string }[];
}

/** `active`: the active units systemd listed for the patterns (it does the glob matching). */
export function planQuiet(active: string[]): QuietPlan {
  const stop = new Set<string>();
  const refused: { unit: string; why: string }[] = [];
  for (const unit of new Set(active)) {
    if (!/\.(service|timer)$/.test(unit)) {
      refused.push({ unit, why: 'only services and timers are stopped' });
      continue;
    }
    const never = NEVER.find(([re]) => re.test(unit));
    if (never) {
      refused.push({ unit, why: never[1] });
      continue;
    }
    stop.add(unit);
  }
  const kind = (u: string) => (u.endsWith('.timer') ? 0 : 1);
  return {
    stop: [...stop].sort((a, b) => kind(a) - kind(b) || (a < b ? -1 : a > b ? 1 : 0)),
    refused: refused.sort((a, b) => (a.unit < b.unit ? -1 : 1)),
  };
}

/** The order to start stopped units again: services first, then timers. */
export function restoreOrder(units: string[]): string[] {
  const kind = (u: string) => (u.endsWith('.timer') ? 1 : 0);
  return [...units].sort((a, b) => kind(a) - kind(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The record of units a hog took down (state_dir/hog-units.json): each unit is written as
 * "intended" BEFORE it is stopped and "stopped" after, so a crash at any point leaves a record
 * naming every unit that may be down. The transitions below are pure; quiet-host.ts asks
 * systemd and writes the record.
 */
export interface QuietRecord {
  unit: string;
  status: 'intended' | 'stopped';
}

/**
 * The record to write before stopping anything for a new hog: units still owed from before
 * (they would not start again after the last hog) are carried over as stopped, the planned
 * ones not among them are added as intended; `toStop` is what to stop now.
 */
export function beginHog(
  owed: QuietRecord[],
  plannedStop: string[],
): { units: QuietRecord[]; toStop: string[] } {
  const carried = owed.map((u) => ({ unit: u.unit, status: 'stopped' as const }));
  const toStop = plannedStop.filter((u) => !carried.some((c) => c.unit === u));
  return { units: [...carried, ...toStop.map((unit) => ({ unit, status: 'intended' as const }))], toStop };
}

/**
 * After `systemctl stop asked`: `stillActive` holds the asked units systemd still runs;
 * `wentDown` the active units that are no longer active (null when systemd could not list
 * them). What really went down is recorded as stopped, including units systemd stopped along
 * with the asked ones (Requires=, BindsTo=: stopping xrdp-sesman takes xrdp down too), so that
 * exactly what the hog took down comes back. A unit that would not stop is not ours to start
 * later: it leaves the record.
 */
export function recordStop(
  records: QuietRecord[],
  asked: string[],
  stillActive: ReadonlySet<string>,
  wentDown: string[] | null,
): { units: QuietRecord[]; stopped: string[]; failed: string[]; alongWith: string[] } {
  const stopped = asked.filter((u) => !stillActive.has(u));
  const failed = asked.filter((u) => stillActive.has(u));
  const alongWith = (wentDown ?? []).filter((u) => !asked.includes(u) && !records.some((r) => r.unit === u));
  const units = [
    ...records
      .filter((r) => !failed.includes(r.unit))
      .map((r) => (stopped.includes(r.unit) ? { ...r, status: 'stopped' as const } : r)),
    ...alongWith.map((unit) => ({ unit, status: 'stopped' as const })),
  ];
  return { units, stopped, failed, alongWith };
}

/** After starting the recorded units again: those that failed to start stay recorded (retried). */
export function recordRelease(records: QuietRecord[], failed: string[]): QuietRecord[] {
  return records.filter((r) => failed.includes(r.unit));
}
