#!/usr/bin/env bash
# Run by test/install.test.ts as root inside `unshare --mount`: a fresh host in a private mount
# namespace (/etc a copy, /usr/local, /var/lib, /var/log, /run and /tmp empty), then systemd/install.sh, doctor
# as root and as the lab member hh-alice, a config edit, an upgrade under a running bridge and
# a stop. Each step's output follows a "=== step" line.
set -uo pipefail
repo=$1; tmp=$2
# A clone of the repository as an admin has it (built), copied before any mount below can hide
# it (the repository may itself live under /tmp, /run or /var/lib).
mkdir "$tmp/clone" && (cd "$repo" && cp -a package.json package-lock.json README.md src bin dist docs config systemd node_modules "$tmp/clone/") || exit 1
touch "$tmp/clone/dist/src/cli/main.js"
mount --make-rprivate /
cp -a /etc "$tmp/etc" && mount --bind "$tmp/etc" /etc
for d in /usr/local /var/lib /var/log /run; do mount -t tmpfs -o mode=755 none "$d"; done
# Nobody else's terminals, tmux servers or session buses are reachable from in here.
mount -t tmpfs -o mode=1777 none /tmp
mkdir -p /usr/local/bin /usr/local/lib /run/lock
# This machine has no GPU driver: an nvidia-smi that lists two GPUs, as the real one prints
# (-L only: its sampling queries give nothing, so doctor warns "GPUs unknown", as it should).
mkdir "$tmp/fakebin"
printf '#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-aaaa)"\necho "GPU 1: NVIDIA H200 (UUID: GPU-bbbb)"\n' > "$tmp/fakebin/nvidia-smi"
chmod 755 "$tmp/fakebin/nvidia-smi"
export PATH="$tmp/fakebin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
unset HOSTHOG_CONFIG HOSTHOG_BRIDGE_RUNTIME
member() { setpriv --reuid hh-alice --regid hh-alice --init-groups env -i PATH="$PATH" HOME=/home/hh-alice "$@"; }
bridge_pid() { tr -dc 0-9 2>/dev/null < /var/lib/hosthog/bridge.pid; }
wait_bridge() {
  for _ in $(seq 1 200); do
    p=$(bridge_pid); [ -n "$p" ] && [ "$p" != "${1:-}" ] && kill -0 "$p" 2>/dev/null && [ -S /run/hosthog/bridge.sock ] && [ -s /run/motd.d/hosthog ] && return 0
    sleep 0.1
  done
  return 1
}

echo "=== install"
(cd /tmp && bash "$tmp/clone/systemd/install.sh" 2>&1); echo "rc=$?"
echo "=== which"; command -v hosthog; readlink -f /usr/local/bin/hosthog
echo "=== config"; grep -v '^#' /etc/hosthog/config.toml | grep -v '^$'
echo "=== doctor-root-stopped"; (cd / && hosthog doctor 2>&1); echo "rc=$?"
echo "=== start"
(cd / && setsid hosthog bridge > "$tmp/bridge1.log" 2>&1 < /dev/null &)
wait_bridge && echo "started pid $(bridge_pid)"
echo "=== status-member"; (cd / && member hosthog status 2>&1); echo "rc=$?"
echo "=== doctor-root"; (cd / && hosthog doctor 2>&1); echo "rc=$?"
echo "=== doctor-member"; (cd / && member hosthog doctor 2>&1); echo "rc=$?"
echo "=== sync-member"; (cd / && member hosthog sync 2>&1); echo "rc=$?"
echo "=== member-claims"
(cd / && member hosthog claim gpu0 --in 0m --for 1h -m "first day" 2>&1); echo "rc=$?"
id=$(cd / && member hosthog list --json 2>/dev/null | sed -n 's/.*"uid": "\([0-9a-f]\{8\}\).*/\1/p' | head -1)
(cd / && member hosthog extend "$id" 30m 2>&1); echo "rc=$?"
(cd / && member hosthog clam 2>&1); echo "rc=$?"
echo "=== doctor-edited"
echo 'resources = ["gpu0", "gpu1", "fpga0"]' > "$tmp/res" && sed -i 's/^resources = .*/resources = ["gpu0", "gpu1", "fpga0"]/' /etc/hosthog/config.toml
(cd / && hosthog doctor 2>&1); echo "rc=$?"
echo "=== upgrade"
old=$(bridge_pid); oldver=$(readlink /usr/local/lib/hosthog/current)
echo "old pid $old version $oldver"
sleep 1.1
(cd /tmp && bash "$tmp/clone/systemd/install.sh" 2>&1); echo "rc=$?"
wait_bridge "$old"; new=$(bridge_pid)
kill -0 "$old" 2>/dev/null && echo "old bridge still running" || echo "old bridge gone"
echo "new pid $new version $(readlink /usr/local/lib/hosthog/current)"
echo "new cmdline: $(tr '\0' ' ' < /proc/$new/cmdline)"
echo "=== doctor-after-upgrade"; (cd / && hosthog doctor 2>&1); echo "rc=$?"
echo "=== stop"
kill -TERM "$new"; for _ in $(seq 1 100); do kill -0 "$new" 2>/dev/null || break; sleep 0.1; done
head -1 /run/motd.d/hosthog
echo "=== doctor-member-stopped"; (cd / && member hosthog doctor 2>&1); echo "rc=$?"
echo "=== end"
