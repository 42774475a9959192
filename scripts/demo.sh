#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, end to end, on a fresh Debian 12 machine (as root):
# install dependencies, build, start the embedded local registry (CNCF
# distribution on a free loopback port), push a sample image made with
# umoci + skopeo, inspect it, mount it lazily with stratafs, browse it,
# read a file, print what was fetched, commit a build's writes over it as a
# new layer, unmount. Idempotent; leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)

bash scripts/install-deps.sh
if [ -f build/build.ninja ]; then
	meson configure build -Dbuildtype=debugoptimized >/dev/null
else
	meson setup build -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C build >/dev/null
STRATA=$SRC/build/tools/strata
STRATAFS=$SRC/build/fs/stratafs

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

. tests/harness/lib.sh
harness_init

step "start the embedded local registry"
registry_start plain
echo "registry: $REGISTRY_URL (storage $REGISTRY_STORAGE)"

step "build a sample image with umoci (two layers: /usr/include, python's stdlib) and push it with skopeo"
layout="$HARNESS_DIR/sample"
umoci init --layout "$layout" >/dev/null
umoci new --image "$layout:v1" >/dev/null
umoci insert --image "$layout:v1" /usr/include /usr/include >/dev/null
umoci insert --image "$layout:v1" /usr/lib/python3 /usr/lib/python3 >/dev/null
skopeo_push "$layout:v1" demo/sample:v1
REF="$REGISTRY/demo/sample:v1"
echo "pushed $REF"

step "strata inspect $REF"
"$STRATA" inspect "${STRATA_REG_OPTS[@]}" "$REF"

step "mount it lazily: stratafs $REF MNT"
MNT="$HARNESS_DIR/mnt"
CACHE="$HARNESS_DIR/cache"
mkdir -p "$MNT"
harness_on_exit "fusermount3 -u '$MNT' 2>/dev/null"
t0=$(date +%s.%N)
"$STRATAFS" "$REF" "$MNT" -o insecure,cache="$CACHE"
t1=$(date +%s.%N)
/usr/bin/python3 -c "print('mounted in %.2f s (the first mount builds each layer index by streaming the layer once)' % ($t1 - $t0))"
grep " $MNT " /proc/mounts

step "browse"
ls -l "$MNT/usr"
echo "$(find "$MNT" | wc -l) entries in the image"

step "read one file"
head -n 5 "$MNT/usr/include/stdio.h"
sha256sum "$MNT/usr/include/stdio.h" /usr/include/stdio.h
"$STRATA" stats "$MNT"

step "unmount, remount with the warm index cache, read again"
fusermount3 -u "$MNT"
t0=$(date +%s.%N)
"$STRATAFS" "$REF" "$MNT" -o insecure,cache="$CACHE"
t1=$(date +%s.%N)
/usr/bin/python3 -c "print('remounted in %.3f s' % ($t1 - $t0))"
wc -c "$MNT/usr/include/stdlib.h"
cmp "$MNT/usr/include/stdlib.h" /usr/include/stdlib.h && echo "stdlib.h: identical to the original"

step "strata stats $MNT"
"$STRATA" stats "$MNT"

step "a build over it: overlay, write, strata commit the upper dir as a new layer"
O="$HARNESS_DIR/ovl"
mkdir -p "$O/up" "$O/work" "$O/merged"
mount -t overlay overlay -o "lowerdir=$MNT,upperdir=$O/up,workdir=$O/work,redirect_dir=off,metacopy=off,index=off" "$O/merged"
harness_on_exit "umount '$O/merged' 2>/dev/null"
echo "built by the demo" >"$O/merged/usr/include/demo.h"
rm -r "$O/merged/usr/lib/python3/dist-packages" 2>/dev/null || true
umount "$O/merged"
"$STRATA" commit "$O/up" "$REGISTRY/demo/sample:v2" --base "$MNT" "${STRATA_REG_OPTS[@]}"
fusermount3 -u "$MNT"
"$STRATAFS" "$REGISTRY/demo/sample:v2" "$MNT" -o insecure,cache="$CACHE"
cat "$MNT/usr/include/demo.h"
test ! -e "$MNT/usr/lib/python3/dist-packages" && echo "dist-packages: deleted in v2 (an OCI whiteout)"

fusermount3 -u "$MNT"
step "done: unmounted, registry stopped"
