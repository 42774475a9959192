#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An unprivileged CI job (CodeBuild's default): strata ls, cat and extract
# of a reference as uid 65534 with no supplementary groups, no FUSE device
# (/dev/fuse is an empty file in the test's mount namespace), HOME and
# XDG_CACHE_HOME in a directory only nobody owns (the default cache,
# $XDG_CACHE_HOME/stratafs). Extract writes what `umoci unpack` writes,
# owners aside (the caller's, as umoci --rootless and tar as non-root do),
# set-id bits (dropped, as GNU tar does as non-root) and xattrs outside
# user.* (not settable).
set -euo pipefail
. "$(dirname "$0")/extract_lib.sh"
fsd_init
registry_start plain
fixture_push multi ex/multi:v1
REF="$REGISTRY/ex/multi:v1"
WANT="$HARNESS_DIR/ref"
umoci_unpack "$(fixture_ref multi)" "$WANT"
nobody_init

tap_is "$(as_nobody id -u):$(as_nobody id -G)" "65534:65534" "runs as nobody, no other group"
tap_not "no FUSE device in its namespace" as_nobody test -c /dev/fuse
tap_not "nobody cannot write the root's default cache" as_nobody test -w /var/cache

if as_nobody "$STRATA" ls -l -R "$REF" --insecure >"$HARNESS_DIR/ls.raw" 2>"$HARNESS_DIR/err"; then
	ls_dump "$WANT/rootfs" | ls_norm >"$HARNESS_DIR/ls.want"
	ls_norm <"$HARNESS_DIR/ls.raw" | diff -u "$HARNESS_DIR/ls.want" - >"$HARNESS_DIR/ls.diff" &&
		tap_pass "ls -l -R REF as nobody lists what umoci unpack wrote" ||
		tap_fail "ls -l -R REF as nobody" "$(head -c 2000 "$HARNESS_DIR/ls.diff")"
else
	tap_fail "ls -l -R REF as nobody" "$(cat "$HARNESS_DIR/err")"
fi
tap_ok "its cache is \$XDG_CACHE_HOME/stratafs, owned by nobody" \
	test "$(stat -c %u "$NOBODY_HOME/.cache/stratafs")" = 65534
tap_ok "cat REF PATH as nobody" cmp -s <(as_nobody "$STRATA" cat "$REF" big/large.bin --insecure) \
	"$WANT/rootfs/big/large.bin"

OUT="$NOBODY_HOME/out"
if as_nobody "$STRATA" extract "$REF" "$OUT" --insecure 2>"$HARNESS_DIR/err"; then
	# owners are nobody's; security.* is never compared (tree_dump skips it);
	# the fixture's one setuid file (perms/suid, 4755) loses its set-id bit
	tap_is "$(stat -c %a "$WANT/rootfs/perms/suid")" 4755 "the image has a setuid file"
	tap_is "$(stat -c %a "$OUT/perms/suid")" 755 "extract as nobody drops its setuid bit (as GNU tar does)"
	chmod u-s "$WANT/rootfs/perms/suid"
	tree_dump "$WANT/rootfs" | awk -F'|' -v OFS='|' '{ $4 = "-"; print }' >"$HARNESS_DIR/t.want"
	tree_dump "$OUT" | awk -F'|' -v OFS='|' '{ $4 = "-"; print }' >"$HARNESS_DIR/t.got"
	diff -u "$HARNESS_DIR/t.want" "$HARNESS_DIR/t.got" >"$HARNESS_DIR/t.diff" &&
		tap_pass "extract REF DEST as nobody equals umoci unpack but for owners and set-id bits" ||
		tap_fail "extract REF DEST as nobody" "$(head -c 3000 "$HARNESS_DIR/t.diff")"
	tap_is "$(find "$OUT" ! -uid 65534 | wc -l)" 0 "every file is nobody's"
else
	tap_fail "extract REF DEST as nobody" "$(cat "$HARNESS_DIR/err")"
fi
# devices are not made as non-root, nor are their other names (hardlinks)
python3 - "$NOBODY_HOME/dev.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as tf:
    for name, kind, link in (("d", tarfile.DIRTYPE, ""), ("d/null", tarfile.CHRTYPE, ""),
                             ("d/null2", tarfile.LNKTYPE, "d/null"), ("d/fifo", tarfile.FIFOTYPE, "")):
        t = tarfile.TarInfo(name)
        t.type, t.linkname, t.mode, t.devmajor, t.devminor = kind, link, 0o755 if kind == tarfile.DIRTYPE else 0o666, 1, 3
        tf.addfile(t)
PY
chmod 0644 "$NOBODY_HOME/dev.tar"
rc=0
as_nobody "$STRATA" extract "$NOBODY_HOME/dev.tar" "$NOBODY_HOME/dev" 2>"$HARNESS_DIR/err" || rc=$?
tap_is "$rc" 0 "extract of a layer with a hardlinked device as nobody: exit 0"
tap_is "$(cd "$NOBODY_HOME/dev" && find . -mindepth 1 -printf '%y %P\n' | sort | tr '\n' ' ')" "d d p d/fifo " \
	"... the fifo is made, the device and its other name are not"
tap_done
