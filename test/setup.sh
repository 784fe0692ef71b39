#!/usr/bin/env bash
# Installs what the test suite runs against, from Debian's packages: real CalDAV servers
# (Radicale, Xandikos, and DAViCal with its PostgreSQL and Apache, which test/harness/servers.ts
# starts by hand), sshd, tmux, wall, dbus, notify-send, systemd (run in its own namespaces
# by test/harness/systemd.ts, never as this machine's init), python3-icalendar as an
# independent iCalendar reader, vdirsyncer and khal as real readers of the published .ics.
# Idempotent and quiet when everything is there already; waits for apt's locks.
set -euo pipefail
pkgs=(radicale xandikos openssh-server tmux bsdutils util-linux systemd libnotify-bin dbus python3-dbus python3-gi python3-icalendar procps psmisc passwd iproute2 curl
  davical postgresql apache2 libapache2-mod-php chromium khal vdirsyncer)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test/setup.sh: missing Debian packages: ${missing[*]} (run the tests as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "test/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt (unattended-upgrades, a second setup) may hold the locks: wait for it, not fail.
  for _ in $(seq 1 600); do
    fuser /var/lib/apt/lists/lock /var/lib/dpkg/lock-frontend >/dev/null 2>&1 || break
    sleep 1
  done
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# wall reaches nobody without utmp.
[ -e /var/run/utmp ] || install -m 664 -g utmp /dev/null /var/run/utmp
mkdir -p /run/sshd
