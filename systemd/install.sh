#!/usr/bin/env bash
# Install hosthog on this host (as root): the program under /usr/local/lib/hosthog/versions/V,
# /usr/local/lib/hosthog/current pointing at it, the command /usr/local/bin/hosthog,
# /etc/hosthog/config.toml (if none), the systemd unit, the profile.d snippet and the admin
# group. Run it again to upgrade: the new version is built aside, the bridge is stopped, the
# `current` link is swapped in one rename, and the bridge is started again on the new program
# (the previous version stays on disk, so nothing is deleted under a running process).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo bash systemd/install.sh)" >&2; exit 1; }
cd "$(dirname "$0")/.."
src=$PWD
prefix=/usr/local/lib/hosthog
etc=/etc/hosthog

# 1. Build, and put the new version aside (the clone keeps its dev dependencies).
[ -d node_modules ] || npm ci --no-audit --no-fund
# (built again only when a source is newer than the build)
if [ ! -e dist/src/cli/main.js ] || [ -n "$(find src -name '*.ts' -newer dist/src/cli/main.js -print -quit)" ]; then
  npm run build --silent
fi
version="$(node -p 'require("./package.json").version')-$(date -u +%Y%m%dT%H%M%SZ)"
stage="$prefix/versions/$version"
install -d -m 755 "$prefix/versions"
rm -rf "$stage.tmp"
mkdir "$stage.tmp"
cp -a package.json package-lock.json README.md dist bin docs config systemd node_modules "$stage.tmp/"
rm -rf "$stage.tmp/dist/test" "$stage.tmp/dist/bench"
(cd "$stage.tmp" && npm prune --omit=dev --no-audit --no-fund >/dev/null)
chmod 755 "$stage.tmp/bin/hosthog" "$stage.tmp/dist/src/cli/main.js"
mv -T "$stage.tmp" "$stage"

# 2. The config: the machine's own defaults (host name, zone), the GPUs nvidia-smi finds, every
#    other key listed commented (config/config.example.toml).
install -d -m 755 "$etc"
if [ ! -e "$etc/config.toml" ]; then
  gpus=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    gpus=$(nvidia-smi -L 2>/dev/null | sed -n 's/^GPU \([0-9][0-9]*\):.*/"gpu\1"/p' | paste -sd, - | sed 's/,/, /g') || gpus=""
  fi
  if [ -n "$gpus" ]; then
    # Only the first (top-level) resources line: [gpus] has a resources key of its own.
    sed -e "0,/^# resources = .*/s//resources = [$gpus]       # found by nvidia-smi -L at install/" \
      config/config.example.toml > "$etc/config.toml.tmp"
  else
    cp config/config.example.toml "$etc/config.toml.tmp"
  fi
  chmod 644 "$etc/config.toml.tmp"
  mv -T "$etc/config.toml.tmp" "$etc/config.toml"
fi

# 3. Stop a running bridge, swap the program in one rename, start it again.
have_systemd=0; [ -d /run/systemd/system ] && have_systemd=1
state_dir=$(sed -n 's/^[[:space:]]*state_dir[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$etc/config.toml" | tail -1)
state_dir=${state_dir:-/var/lib/hosthog}
bridge_pid() {
  local p; p=$(head -c 32 "$state_dir/bridge.pid" 2>/dev/null | tr -dc 0-9) || true
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qa 'main.js' "/proc/$p/cmdline" 2>/dev/null && echo "$p"
  return 0
}
was_running=0
if [ "$have_systemd" = 1 ] && systemctl is-active --quiet hosthog-bridge; then
  was_running=1; systemctl stop hosthog-bridge
elif old=$(bridge_pid) && [ -n "$old" ]; then
  was_running=2; kill -TERM "$old"
  for _ in $(seq 1 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
fi
ln -sfn "versions/$version" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"
ln -sfn "$prefix/current/bin/hosthog" /usr/local/bin/hosthog.new
mv -T /usr/local/bin/hosthog.new /usr/local/bin/hosthog
rm -rf "$prefix/dist" "$prefix/node_modules"   # the layout before versions/
# Keep this version and the one before it.
ls -1dt "$prefix"/versions/*/ 2>/dev/null | tail -n +3 | while read -r d; do rm -rf "$d"; done

install -d -m 755 /etc/systemd/system /etc/profile.d
install -m 644 systemd/hosthog-bridge.service /etc/systemd/system/hosthog-bridge.service
install -m 644 config/profile.d-hosthog.sh /etc/profile.d/hosthog.sh
getent group hosthog-admins >/dev/null || groupadd --system hosthog-admins
/usr/local/bin/hosthog gate setup   # the hog gate: PAM line + sshd Banner drop-in (docs/admin.md)

if [ "$have_systemd" = 1 ]; then
  systemctl daemon-reload
  systemctl enable hosthog-bridge >/dev/null
  systemctl start hosthog-bridge
  echo "hosthog $version installed; bridge running. Check: hosthog doctor"
else
  if [ "$was_running" = 2 ]; then
    # A supervisor (runit, s6, supervisord) brings it back by itself; otherwise start it here.
    for _ in $(seq 1 50); do [ -n "$(bridge_pid)" ] && break; sleep 0.1; done
    if [ -z "$(bridge_pid)" ]; then
      setsid /usr/local/bin/hosthog bridge >>/var/log/hosthog-bridge.log 2>&1 < /dev/null &
      echo "bridge restarted on the new program (log: /var/log/hosthog-bridge.log)"
    else
      echo "bridge restarted by its supervisor"
    fi
  fi
  echo "hosthog $version installed. No systemd here: run 'hosthog bridge' under your service manager (docs/admin.md, without systemd). Check: hosthog doctor"
fi
