#!/usr/bin/env bash
# Installs the .deb into a fresh Debian root (debootstrap, minbase: no Python, no project files)
# and runs the frozen smoke tests inside it with chroot, as an ordinary user.
#
#   sudo packaging/test_install.sh [dist/spade-studio_<ver>_amd64.deb]
#
# Needs root, debootstrap and chroot (Debian: apt-get install debootstrap) and Debian's package
# archive: the root is made from it, and apt inside the root fetches the .deb's Depends from it.
# Settings: SUITE (bookworm), MIRROR (the first Debian URI in the host's apt sources, else
# deb.debian.org), ROOTFS (/var/tmp/spade-studio-testroot; made anew each run), KEEP_ROOT=1 keeps
# it afterwards, STARTS=N also times N GUI starts inside the root.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB="${1:-$(ls -t dist/spade-studio_*_*.deb 2>/dev/null | head -n 1)}"
[ -f "$DEB" ] || { echo "no .deb (build one: python packaging/build.py)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (debootstrap, chroot)"; exit 2; }
command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)"; exit 2; }

SUITE="${SUITE:-bookworm}"
if [ -z "${MIRROR:-}" ]; then
    MIRROR=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
             | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
    MIRROR="${MIRROR:-http://deb.debian.org/debian}"
fi
ROOTFS="${ROOTFS:-/var/tmp/spade-studio-testroot}"

mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
    if [ "${KEEP_ROOT:-0}" != 1 ]; then rm -rf --one-file-system "$ROOTFS"; fi
}
trap cleanup EXIT

t0=$SECONDS
rm -rf --one-file-system "$ROOTFS"
echo "== debootstrap $SUITE (minbase) from $MIRROR into $ROOTFS"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"${ROOTFS%/}.debootstrap.log" 2>&1 \
    || { tail -n 20 "${ROOTFS%/}.debootstrap.log"; exit 1; }
echo "   done in $((SECONDS - t0)) s"

for fs in proc sys dev dev/pts; do
    if mount --bind "/$fs" "$ROOTFS/$fs" 2>/dev/null; then mounted+=("$ROOTFS/$fs"); fi
done
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

echo "== the clean root has no Python and no project files"
if in_root sh -c 'command -v python3 || command -v python || ls /usr/lib/python3* 2>/dev/null | head -n 1' | grep -q .; then
    echo "FAIL: Python is present in the clean root"; exit 1
fi
[ ! -e "$ROOTFS$(pwd)" ] || { echo "FAIL: the source tree path exists in the root"; exit 1; }
echo "   ok"

echo "== apt-get install ./$(basename "$DEB") (its Depends come from the archive)"
cp "$DEB" "$ROOTFS/tmp/"
in_root apt-get update -qq
t1=$SECONDS
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "/tmp/$(basename "$DEB")" >"$ROOTFS/tmp/apt-install.log" 2>&1 || { tail -n 30 "$ROOTFS/tmp/apt-install.log"; exit 1; }
echo "   installed in $((SECONDS - t1)) s; $(in_root du -sh /opt/spade-studio | cut -f1) in /opt/spade-studio"
in_root sh -c 'command -v python3' && { echo "FAIL: installing pulled in Python"; exit 1; }
for f in /usr/bin/spade-studio /usr/bin/spade-studio-cli /usr/share/applications/spade-studio.desktop \
         /usr/share/metainfo/spade-studio.metainfo.xml /usr/share/icons/hicolor/256x256/apps/spade-studio.png; do
    in_root test -e "$f" || { echo "FAIL: $f missing after install"; exit 1; }   # inside: /usr/bin links resolve there
done

TEST_USER=painter
TEST_HOME="/home/$TEST_USER"  # inside the root
echo "== smoke tests inside the root (user '$TEST_USER', programs from PATH)"
in_root useradd -m "$TEST_USER"
cp packaging/smoke_test.sh "$ROOTFS/tmp/smoke_test.sh"
chmod 755 "$ROOTFS/tmp/smoke_test.sh"
rc=0
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin HOME="$TEST_HOME" LANG=C.UTF-8 TMPDIR=/tmp \
    STARTS="${STARTS:-0}" SMOKE_HOME="$TEST_HOME" \
    /usr/sbin/runuser -u "$TEST_USER" -- /bin/bash /tmp/smoke_test.sh PATH || rc=$?

echo "== user folders of the installed app"
in_root sh -c "ls -d $TEST_HOME/.config/spade-studio $TEST_HOME/.local/share/spade-studio 2>/dev/null" || true

echo "== apt-get remove"
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq spade-studio >/dev/null
if [ -e "$ROOTFS/opt/spade-studio/spade-studio" ] || [ -L "$ROOTFS/usr/bin/spade-studio" ]; then
    echo "FAIL: files left after remove"; rc=1
else
    echo "   removed cleanly"
fi
echo "== test_install: $([ $rc = 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
exit $rc
