#!/usr/bin/env bash
# Install hosthog on this host (as root): the program under /usr/local/lib/hosthog, the command
# /usr/local/bin/hosthog, /etc/hosthog/config.toml (if none), the systemd unit, the profile.d
# snippet and the admin group. Idempotent: run it again to upgrade.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo bash systemd/install.sh)" >&2; exit 1; }
cd "$(dirname "$0")/.."
prefix=/usr/local/lib/hosthog
npm ci --no-audit --no-fund
npm run build
npm prune --omit=dev --no-audit --no-fund
install -d -m 755 "$prefix"
rm -rf "$prefix/dist" "$prefix/node_modules"
cp -a dist node_modules package.json README.md docs config systemd "$prefix/"
chmod 755 "$prefix/dist/src/cli/main.js"
ln -sf "$prefix/dist/src/cli/main.js" /usr/local/bin/hosthog
install -d -m 755 /etc/hosthog
if [ ! -e /etc/hosthog/config.toml ]; then
  # Start on the embedded local calendar; uncomment [calendar] url for a CalDAV server.
  sed -e 's/^\(url\|username\|password_file\) =/# &/' config/config.example.toml > /etc/hosthog/config.toml
  chmod 644 /etc/hosthog/config.toml
fi
install -m 644 systemd/hosthog-bridge.service /etc/systemd/system/hosthog-bridge.service
install -m 644 config/profile.d-hosthog.sh /etc/profile.d/hosthog.sh
getent group hosthog-admins >/dev/null || groupadd --system hosthog-admins
/usr/local/bin/hosthog gate setup   # the hog gate: PAM line + sshd Banner drop-in (docs/admin.md)
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now hosthog-bridge
  echo "hosthog installed; bridge running. Check: hosthog doctor"
else
  echo "hosthog installed. No systemd here: run 'hosthog bridge' under your service manager. Check: hosthog doctor"
fi
