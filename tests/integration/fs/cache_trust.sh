#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The local cache is used only if it is ours (fs/cache.h, "Trust"). The
# root daemon refuses, naming the path and the reason, a cache dir another
# user prepared (its v1/tmp a symlink to a victim dir whose old file the
# stale-tmp cleanup used to unlink), a group-writable one, and a cache
# holding planted indexes and spans in dirs others can write; a symlink on
# the cache path too. `strata cache` refuses the same dirs. A cache of ours
# mounts and reads byte-exact, is reused warm, and an index file in it that
# is not ours is ignored (the layer is indexed again).
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init

registry_start plain
fixture_push multi fs/multi:v1
LAYOUT=$(fixture_build multi)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" multi)"
LAYERS=$(jq -r '.layers[].digest' "$MAN")
MNT=$HARNESS_DIR/mnt
ERR=$HARNESS_DIR/err
umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref" || harness_fail "cannot unpack the reference"
WANT=$(cd "$HARNESS_DIR/ref/rootfs" && find . -type f | sort | xargs sha256sum)

sums() { (cd "$MNT" && find . -type f | sort | xargs sha256sum); }
layer_gets() {
	local d n=0
	for d in $LAYERS; do n=$((n + $(registry_blob_gets "$d"))); done
	echo "$n"
}

# refused DESC CACHE REASON: stratafs exits 1 with "refusing cache dir 'CACHE': ..REASON..",
# nothing mounted; so does `strata cache du`
refused() {
	local desc=$1 dir=$2 reason=$3 rc=0
	mkdir -p "$MNT"
	harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
	"$STRATAFS" "$REGISTRY/fs/multi:v1" "$MNT" -o "insecure,cache=$dir" 2>"$ERR" || rc=$?
	tap_is "$rc" 1 "$desc: stratafs refuses to start"
	tap_ok "... saying which dir and why ($reason)" grep -qF -e "refusing cache dir '$dir'" "$ERR"
	tap_ok "... $(grep -o "refusing cache dir.*" "$ERR" | head -n 1 | cut -c 1-160)" grep -qF -e "$reason" "$ERR"
	tap_not "... nothing is mounted" fsd_is_mounted "$MNT"
	rc=0
	"$STRATA" cache du --cache "$dir" >/dev/null 2>"$ERR" || rc=$?
	tap_is "$rc" 1 "... strata cache du refuses it too"
}

# (a) another user's dir, v1/tmp -> a victim dir with a file older than the stale-tmp age
VICTIM=$HARNESS_DIR/victim
mkdir -p "$VICTIM"
echo precious >"$VICTIM/old"
touch -d '1 hour ago' "$VICTIM/old"
P=$HARNESS_DIR/planted
mkdir -p "$P/v1/built" "$P/v1/iblob" "$P/v1/spans"
ln -s "$VICTIM" "$P/v1/tmp"
chown -R -h nobody:nogroup "$P"
refused "a cache dir owned by nobody, v1/tmp a symlink" "$P" "is owned by uid 65534, not by us"
tap_ok "the victim's old file is still there" test -f "$VICTIM/old"
tap_not "strata cache prune 0 refuses it" "$STRATA" cache prune 0 --cache "$P"
tap_ok "... the victim's old file is still there" test -f "$VICTIM/old"
chown -R -h root:root "$P"
refused "the same dir owned by root" "$P" "'$P/v1/tmp' is a symlink"
tap_ok "the victim's old file is still there" test -f "$VICTIM/old"

# (b) a group-writable cache dir
G=$HARNESS_DIR/gw
mkdir -p "$G" && chmod 0775 "$G"
refused "a group-writable cache dir" "$G" "'$G' is writable by group or others"

# a symlink on the way to the cache dir
ln -s "$HARNESS_DIR" "$HARNESS_DIR/link"
refused "a cache path through a symlink" "$HARNESS_DIR/link/cache" "'$HARNESS_DIR/link' is a symlink"

# (d) a cache of ours: the mount works, reads are byte-exact, the dirs are 0700
FSD_CACHE=$HARNESS_DIR/good
tap_ok "mount with a new cache dir of ours" fsd_mount fs/multi:v1 "$MNT"
tap_is "$(sums)" "$WANT" "every file reads byte-exact"
tap_ok "the daemon cached indexes and spans" test -n "$(ls "$FSD_CACHE/v1/built")" -a -n "$(ls "$FSD_CACHE/v1/spans")"
tap_ok "unmount" fsd_umount "$MNT"
tap_is "$(stat -c %a "$FSD_CACHE" "$FSD_CACHE"/v1 "$FSD_CACHE"/v1/* | sort -u)" 700 \
	"the cache dir, v1 and its subdirs were created 0700"
registry_log_mark
tap_ok "mount again on the warm cache" fsd_mount fs/multi:v1 "$MNT"
tap_is "$(sums)" "$WANT" "... byte-exact"
tap_is "$(layer_gets)" 0 "... from the cache: no layer GET"
tap_ok "unmount" fsd_umount "$MNT"

# (c) that cache's indexes and spans, planted where others can write: refused
C=$HARNESS_DIR/c-open
cp -a "$FSD_CACHE" "$C" && chmod 0777 "$C"
refused "planted indexes and spans in a cache dir writable by others" "$C" "'$C' is writable by group or others"
C=$HARNESS_DIR/c-sticky
cp -a "$FSD_CACHE" "$C" && chmod 1777 "$C"
refused "... also when it is sticky" "$C" "'$C' is writable by group or others"
C=$HARNESS_DIR/c-built
cp -a "$FSD_CACHE" "$C" && chmod 0777 "$C/v1/built"
refused "planted indexes in a v1/built writable by others" "$C" "'$C/v1/built' is writable by group or others"
C=$HARNESS_DIR/c-spans
cp -a "$FSD_CACHE" "$C" && chown -R nobody "$C/v1/spans"
refused "planted spans in a v1/spans of nobody" "$C" "'$C/v1/spans' is owned by uid 65534"

# an index file of another uid in a cache of ours: ignored, the layer is indexed again
C=$HARNESS_DIR/c-foreign
cp -a "$FSD_CACHE" "$C" && chown nobody "$C"/v1/built/*
FSD_CACHE=$C
registry_log_mark
rc=0
fsd_mount fs/multi:v1 "$MNT" 2>"$ERR" || rc=$?
tap_is "$rc" 0 "mount with index files of nobody in v1/built"
tap_ok "... they are ignored, with a warning" grep -q "ignoring cached index.*not a regular file of ours" "$ERR"
tap_ok "... the layers are read again to index them" test "$(layer_gets)" -ge 1
tap_is "$(sums)" "$WANT" "... byte-exact"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
