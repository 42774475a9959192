#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real-world tree: an image built (umoci + skopeo, no network) from the
# host's Debian package trees: layer 1 = /usr/lib/python3/dist-packages
# (thousands of small files, real names, __pycache__, .so files; the
# biggest packages left out to keep the test short), layer 2 =
# /usr/share/perl5 + /usr/share/doc (changelogs, symlinked doc dirs; dirs
# over 256 KiB left out), layer 3 = real modifications on top (a whiteout of
# a package dir, a replaced file, an opaque doc dir). The mounted tree equals
# `umoci unpack` of the same image: names, types, modes, owners, mtimes,
# sizes, link targets, xattrs, content (tree_dump of mount_lib.sh).
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
MNT="$HARNESS_DIR/mnt"
L="$HARNESS_DIR/layout"
T="$HARNESS_DIR/tree"
PYD=/usr/lib/python3/dist-packages
[ -d "$PYD" ] && [ -d /usr/share/perl5 ] && [ -d /usr/share/doc ] ||
	harness_fail "the Debian trees are missing ($PYD, /usr/share/perl5, /usr/share/doc)"

# layer 1: dist-packages without its biggest packages
mkdir -p "$T/l1/usr/lib/python3/dist-packages"
for e in "$PYD"/* "$PYD"/.[!.]*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	case "${e##*/}" in botocore | pip | mesonbuild | pygments | setuptools | cryptography | pkg_resources) continue ;; esac
	cp -a "$e" "$T/l1/usr/lib/python3/dist-packages/"
done
# layer 2: perl5 and the doc dirs of at most 256 KiB
mkdir -p "$T/l2/usr/share/doc"
cp -a /usr/share/perl5 "$T/l2/usr/share/"
for e in /usr/share/doc/*; do
	if [ -L "$e" ] || [ "$(du -s "$e" | cut -f1)" -le 256 ]; then
		cp -a "$e" "$T/l2/usr/share/doc/"
	fi
done
touch -r /usr/share/doc "$T/l2/usr/share/doc"
# layer 3: real changes of real files
OPQ=$(cd "$T/l2/usr/share/doc" && for d in *; do [ -d "$d" ] && [ ! -L "$d" ] && echo "$d"; done | sed -n 3p)
GONE=$(cd "$T/l1/usr/lib/python3/dist-packages" && for d in *; do [ -d "$d" ] && [ ! -L "$d" ] && echo "$d"; done | sed -n 2p)
REPL=$(cd "$T/l1" && find usr -name '*.py' -size +2k | sort | sed -n 5p)
[ -n "$OPQ" ] && [ -n "$GONE" ] && [ -n "$REPL" ] || harness_fail "cannot pick the layer-3 changes"
mkdir -p "$T/l3/opq"
cp -a /usr/share/perl5/Dpkg.pm "$T/l3/opq/" 2>/dev/null || echo "new doc" >"$T/l3/opq/README"
cp -a /usr/share/perl5/Dpkg.pm "$T/l3/repl" 2>/dev/null || echo "replaced" >"$T/l3/repl"
tap_diag "layer 1: $(find "$T/l1" | wc -l) paths, $(du -sh "$T/l1" | cut -f1); layer 2: $(find "$T/l2" | wc -l) paths, $(du -sh "$T/l2" | cut -f1)"
tap_diag "layer 3: whiteout of dist-packages/$GONE, opaque doc/$OPQ, /$REPL replaced"
{
	umoci init --layout "$L"
	umoci new --image "$L:rw"
	umoci insert --image "$L:rw" "$T/l1" /
	umoci insert --image "$L:rw" "$T/l2" /
	umoci insert --image "$L:rw" --whiteout "/usr/lib/python3/dist-packages/$GONE"
	umoci insert --image "$L:rw" --opaque "$T/l3/opq" "/usr/share/doc/$OPQ"
	umoci insert --image "$L:rw" "$T/l3/repl" "/$REPL"
} >"$HARNESS_DIR/umoci.log" 2>&1 || harness_fail "cannot build the image: $(cat "$HARNESS_DIR/umoci.log")"
rm -rf "$T"
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:rw" "docker://$REGISTRY/fs/realworld:v1" ||
	harness_fail "cannot push the image"
umoci_unpack "$L:rw" "$HARNESS_DIR/ref"
WANT="$HARNESS_DIR/ref/rootfs"

tap_timed fsd_mount fs/realworld:v1 "$MNT"
if [ "$TAP_RC" = 0 ]; then
	tap_pass "mount of the real-world image (${TAP_SECS} s, cold: indexes built by streaming)"
else
	tap_fail "mount of the real-world image" "$(cat "$TAP_OUT")"
	tap_done
	exit 1
fi
tap_not "whiteout: dist-packages/$GONE is hidden" test -e "$MNT/usr/lib/python3/dist-packages/$GONE"
tap_is "$(ls "$MNT/usr/share/doc/$OPQ")" "$(ls "$WANT/usr/share/doc/$OPQ")" "opaque: doc/$OPQ shows only the upper layer"
tap_ok "replaced: /$REPL has its upper content" cmp "$WANT/$REPL" "$MNT/$REPL"
tree_dump "$WANT" >"$HARNESS_DIR/want.txt"
tap_timed tree_dump "$MNT"
cp "$TAP_OUT" "$HARNESS_DIR/got.txt"
if [ "$TAP_RC" = 0 ] && diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt" >"$HARNESS_DIR/diff.txt"; then
	tap_pass "tree equals umoci unpack ($(wc -l <"$HARNESS_DIR/want.txt") paths: names, types, modes, owners, mtimes, sizes, links, xattrs, content; dump ${TAP_SECS} s)"
else
	tap_fail "tree equals umoci unpack" "$(head -c 3000 "$HARNESS_DIR/diff.txt")"
fi
tap_ok "symlinks present ($(grep -c '|->' "$HARNESS_DIR/want.txt") in the reference)" test "$(grep -c '|->' "$HARNESS_DIR/want.txt")" -gt 0
tap_ok "thousands of paths" test "$(wc -l <"$HARNESS_DIR/want.txt")" -gt 2000
tap_ok "unmount" fsd_umount "$MNT"
tap_not "nothing left mounted" fsd_is_mounted "$MNT"
tap_done
