#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mounted tree of a multi-layer image (whiteouts, an opaque dir,
# hardlinks, symlinks, xattrs, long paths, setuid) equals `umoci unpack` of
# the same image: names, types, modes, owners, mtimes, sizes, link targets,
# xattrs and content. The mount is ro,nosuid,nodev; writes fail with EROFS;
# stats are an unlisted xattr of the root; fusermount3 -u unmounts cleanly.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push multi fs/multi:v1

MNT="$HARNESS_DIR/mnt"
REF_DIR="$HARNESS_DIR/ref"
umoci_unpack "$(fixture_ref multi)" "$REF_DIR"

tap_timed fsd_mount fs/multi:v1 "$MNT"
if [ "$TAP_RC" = 0 ]; then
	tap_pass "mount of a 5-layer image (${TAP_SECS} s, cold: indexes built by streaming)"
else
	tap_fail "mount of a 5-layer image" "$(cat "$TAP_OUT")"
	tap_done
	exit 1
fi

opts=$(awk -v m="$(readlink -f "$MNT")" '$2 == m { print $4 }' /proc/mounts)
tap_diag "mount options: $opts"
has_opt() { case ",$opts," in *",$1,"*) return 0 ;; esac; return 1; }
tap_ok "mounted read-only" has_opt ro
tap_ok "mounted nosuid" has_opt nosuid
tap_ok "mounted nodev" has_opt nodev
tap_is "$(awk -v m="$(readlink -f "$MNT")" '$2 == m { print $1 }' /proc/mounts)" \
	"$REGISTRY/fs/multi:v1" "the source in /proc/mounts is the reference"

tree_dump "$REF_DIR/rootfs" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
if diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt" >"$HARNESS_DIR/diff.txt"; then
	tap_pass "tree equals umoci unpack ($(wc -l <"$HARNESS_DIR/want.txt") paths: metadata, xattrs, content)"
else
	tap_fail "tree equals umoci unpack" "$(head -c 3000 "$HARNESS_DIR/diff.txt")"
fi

tap_not "whiteout: gone.txt is hidden" test -e "$MNT/gone.txt"
tap_not "whiteout: gonedir is hidden" test -e "$MNT/gonedir"
tap_is "$(ls "$MNT/opq")" "new1" "opaque dir shows only the upper layer"
tap_is "$(cat "$MNT/keep/a.txt")" "a v2" "modified file has its upper content"
tap_is "$(stat -c %i "$MNT/links/hard.txt")" "$(stat -c %i "$MNT/links/target.txt")" "hardlinks share an inode"
tap_is "$(readlink "$MNT/links/abs")" "/keep/a.txt" "absolute symlink target"
tap_is "$(getfattr --only-values -n user.stratafs.text "$MNT/xattr/file")" "hello" "getxattr"
tap_not "missing xattr is ENODATA" getfattr -n user.nope "$MNT/xattr/file"
tap_ok "xattr size probing: 0 gives the size, too small is ERANGE" /usr/bin/python3 - "$MNT/xattr/file" <<'PY'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
p = sys.argv[1].encode()
n = libc.getxattr(p, b"user.stratafs.text", None, 0)
assert n == 5, n
buf = ctypes.create_string_buffer(8)
assert libc.getxattr(p, b"user.stratafs.text", buf, 2) == -1 and ctypes.get_errno() == errno.ERANGE
assert libc.getxattr(p, b"user.stratafs.text", buf, 8) == 5 and buf.raw[:5] == b"hello"
n = libc.listxattr(p, None, 0)
lb = ctypes.create_string_buffer(n)
assert libc.listxattr(p, lb, 1) == -1 and ctypes.get_errno() == errno.ERANGE
assert libc.listxattr(p, lb, n) == n
assert sorted(lb.raw.split(b"\0")[:-1]) == [b"user.stratafs.bin", b"user.stratafs.text"], lb.raw
PY
tap_is "$(stat -c %a "$MNT/perms/suid")" "4755" "setuid bit shown"

err=$(touch "$MNT/newfile" 2>&1 || true)
case "$err" in *"Read-only file system"*) tap_pass "touch fails with EROFS" ;; *) tap_fail "touch fails with EROFS" "$err" ;; esac
err=$( (echo x >>"$MNT/keep/b.txt") 2>&1 || true)
case "$err" in *"Read-only file system"*) tap_pass "append fails with EROFS" ;; *) tap_fail "append fails with EROFS" "$err" ;; esac
tap_not "mkdir fails" mkdir "$MNT/newdir"
tap_not "rm fails" rm -f "$MNT/keep/b.txt"

# stats: a hidden xattr of the root
tap_not "root listxattr does not list the stats" sh -c "getfattr -d -m - '$MNT' 2>/dev/null | grep -q stratafs.stats"
if "$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats.json" 2>"$HARNESS_DIR/stats.err" &&
	jq -e . "$HARNESS_DIR/stats.json" >/dev/null; then
	tap_pass "strata stats --json parses"
else
	tap_fail "strata stats --json parses" "$(cat "$HARNESS_DIR/stats.err" "$HARNESS_DIR/stats.json")"
fi
tap_is "$(jq -r .mount.manifest "$HARNESS_DIR/stats.json")" \
	"$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/fs/multi:v1" | sha256sum | sed 's/^/sha256:/; s/ .*//')" \
	"stats name the manifest digest"
fetched=$(jq '[.. | objects | .bytes_fetched? // empty] | max // 0' "$HARNESS_DIR/stats.json")
tap_ok "stats count fetched bytes (${fetched})" test "${fetched:-0}" -gt 0
tap_ok "strata stats (table)" "$STRATA" stats "$MNT"
tap_diag "$("$STRATA" stats "$MNT" 2>&1)"
# stats bigger than an xattr value come in chunks (forced small here)
tap_ok "unmount" fsd_umount "$MNT"
tap_ok "mount with stats_chunk=700" fsd_mount fs/multi:v1 "$MNT" stats_chunk=700
cat "$MNT/keep/a.txt" >/dev/null
head=$(getfattr --only-values -n user.stratafs.stats "$MNT" 2>/dev/null)
case "$head" in '{"stratafs_stats_chunks":'*) tap_pass "the stats head names its chunks: $head" ;;
*) tap_fail "the stats head names its chunks" "$head" ;; esac
tap_ok "strata stats --json joins the chunks into valid JSON" sh -c "'$STRATA' stats '$MNT' --json | jq -e '.mount.manifest and .totals' >/dev/null"
tap_ok "strata stats (table) from chunks" sh -c "'$STRATA' stats '$MNT' | grep -q total"
tap_ok "unmount" fsd_umount "$MNT"
# Readers at once never mix each other's chunks: each head read takes a
# snapshot, and chunks name theirs. (One snapshot was shared: a commit
# reading the profile while `strata stats` ran failed "Bad message" in
# 19 of 100 tries, and pushed no profile.) Chunks of 64 bytes here.
tap_ok "mount with stats_chunk=64" fsd_mount fs/multi:v1 "$MNT" stats_chunk=64
cat "$MNT/keep/a.txt" "$MNT/keep/b.txt" >/dev/null
"$STRATA" stats "$MNT" --profile "$HARNESS_DIR/p0.txt" || tap_fail "strata stats --profile"
# another reader of the stats: a head read every few microseconds, for 20 s at most
"$PY" -c 'import os, sys, time
end = time.time() + 20
while time.time() < end and not os.path.exists(sys.argv[2]):
    os.getxattr(sys.argv[1], "user.stratafs.stats")' "$MNT" "$HARNESS_DIR/stop-stats" &
busy=$!
bad=0
for i in $(seq 1 40); do
	"$STRATA" stats "$MNT" --profile "$HARNESS_DIR/p.txt" 2>>"$HARNESS_DIR/p.err" &&
		cmp -s "$HARNESS_DIR/p0.txt" "$HARNESS_DIR/p.txt" || bad=$((bad + 1))
done
touch "$HARNESS_DIR/stop-stats"
wait "$busy" || true
# a strata from before snapshots reads the head, then chunks ".K" of the newest
head=$(getfattr --only-values -n user.stratafs.stats "$MNT" 2>/dev/null)
n=$(jq .stratafs_stats_chunks <<<"$head")
joined=$(for i in $(seq 0 $((n - 1))); do getfattr --only-values -n "user.stratafs.stats.$i" "$MNT" 2>/dev/null; done)
tap_ok "the chunk names of a strata before snapshots still read (the newest snapshot, $n chunks)" \
	jq -e '.mount.manifest' <<<"$joined"
tap_is "$bad" 0 "40 profile reads while strata stats runs: each whole ($(wc -c <"$HARNESS_DIR/p0.txt") bytes, $(sort -u "$HARNESS_DIR/p.err" | head -2))"
tap_not "strata stats on a plain directory fails" "$STRATA" stats "$HARNESS_DIR"
tap_ok "statfs reports the image size" test "$(stat -f -c %b "$MNT")" -gt 0
tap_not "no file named like the stats in the tree" sh -c "ls -a '$MNT' | grep -q stats"

tap_ok "fusermount3 -u unmounts and the daemon exits" fsd_umount "$MNT"
tap_not "nothing left mounted" fsd_is_mounted "$MNT"

# errors before mounting: exit 1, nothing mounted
tap_not "an unknown tag fails" "$STRATAFS" "$REGISTRY/fs/multi:nope" "$MNT" -o "insecure,cache=$FSD_CACHE"
tap_not "... and leaves nothing mounted" fsd_is_mounted "$MNT"
tap_not "a bad reference fails" "$STRATAFS" "UPPER/Case::bad" "$MNT" -o "insecure,cache=$FSD_CACHE"
tap_not "a dead registry fails" "$STRATAFS" "127.0.0.1:1/x:y" "$MNT" -o "insecure,cache=$FSD_CACHE,io_timeout=3"
tap_not "... and leaves nothing mounted" fsd_is_mounted "$MNT"
tap_done
