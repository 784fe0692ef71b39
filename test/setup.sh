#!/usr/bin/env bash
# Installs what the test suite runs against, from Debian's packages: real CalDAV servers
# (Radicale, Xandikos), sshd, tmux, wall, dbus, notify-send, systemd (run in its own namespaces
# by test/harness/systemd.ts, never as this machine's init), python3-icalendar as an
# independent iCalendar reader. Idempotent and quiet when everything is there already.
set -euo pipefail
pkgs=(radicale xandikos openssh-server tmux bsdutils util-linux systemd libnotify-bin dbus python3-dbus python3-gi python3-icalendar vdirsyncer procps psmisc passwd iproute2 curl)
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
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# wall reaches nobody without utmp.
[ -e /var/run/utmp ] || install -m 664 -g utmp /dev/null /var/run/utmp
mkdir -p /run/sshd
