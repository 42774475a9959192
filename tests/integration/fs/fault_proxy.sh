#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Failure model through the fault proxy, with the daemon's registry host =
# the proxy in front of a real `plain` registry. Per case a fresh mount on
# a fresh cache dir that holds only the layer indexes (no span cached), the
# proxy switched to one fault, then uncached files read: a connection
# dropped mid-body (once: retried -> right bytes; always: EIO), a
# connection reset, blob responses delayed (before the headers, mid-body)
# or trickled beyond io_timeout=3 (EIO within io_timeout + slack), a byte
# flipped in a blob body (EIO, never wrong bytes, the bad span not cached),
# 200 + whole body for a Range request, 429 + Retry-After, 503 then OK.
# After every case the daemon is alive, the mount listed, and with the
# proxy passing again the same file reads back right. Every span file left
# in a case's cache holds the right bytes of its layer. Last, kill -9 of
# the daemon during parallel cat loops, then unmount of the dead mount and
# a remount on the same cache: every file right.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
TMO=3
SLACK=3
MNT="$HARNESS_DIR/mnt"

# The image: layer 1 = three random files of 5 MiB (two 4 MiB spans each
# at least: a read at 0 fetches a multi-span run), layer 2 = text files.
L="$HARNESS_DIR/layout"
T="$HARNESS_DIR/tree"
mkdir -p "$T/l1/big" "$T/l2/txt"
for i in 1 2 3; do _fx_rand "fault-proxy-$i" 5242880 >"$T/l1/big/r$i.bin"; done
for i in 1 2 3; do _fx_text $((40000 * i)) >"$T/l2/txt/t$i.txt"; done
echo small >"$T/l2/txt/small"
{
	umoci init --layout "$L"
	umoci new --image "$L:fp"
	umoci insert --image "$L:fp" "$T/l1" /
	umoci insert --image "$L:fp" "$T/l2" /
} >"$HARNESS_DIR/umoci.log" 2>&1 || harness_fail "cannot build the image: $(cat "$HARNESS_DIR/umoci.log")"
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:fp" "docker://$REGISTRY/fs/fp:v1" ||
	harness_fail "cannot push the image"
umoci_unpack "$L:fp" "$HARNESS_DIR/ref"
WANT="$HARNESS_DIR/ref/rootfs"
MAN=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/fs/fp:v1")
LAYERS=$(jq -r '.layers[].digest' <<<"$MAN")

proxy_start

# Warm the index cache once (the cold mount streams every layer).
WARM="$HARNESS_DIR/warm"
mount_proxy() { REGISTRY="$PROXY" fsd_mount "$@"; }
FSD_CACHE=$WARM
mkdir -p "$WARM"
tap_ok "cold mount through the proxy ($PROXY) builds the indexes" mount_proxy fs/fp:v1 "$MNT"
tap_ok "unmount" fsd_umount "$MNT"
tap_is "$(find "$WARM/v1/built" -name '*.idx' | wc -l | tr -d ' ')" 2 "two layer indexes cached"

# spans_ok CACHE: every span file of CACHE holds the right bytes of its layer
# (payload = the uncompressed layer at u_start, then a 64-byte trailer whose
# sha256 at offset 24 is the payload's).
mkdir -p "$HARNESS_DIR/tars"
for d in $LAYERS; do
	gzip -dc "$L/blobs/sha256/${d#sha256:}" >"$HARNESS_DIR/tars/${d#sha256:}.tar" ||
		harness_fail "layer $d is not in the layout"
done
spans_ok() {
	local f hex base start len
	[ -d "$1/v1/spans" ] || return 0
	for f in $(find "$1/v1/spans" -type f); do
		hex=$(basename "$(dirname "$f")")
		base=$(basename "$f")
		start=$((16#${base%-*}))
		len=$((16#${base#*-}))
		[ "$(stat -c %s "$f")" = $((len + 64)) ] || { echo "$f: size"; return 1; }
		cmp <(head -c "$len" "$f") <(tail -c +$((start + 1)) "$HARNESS_DIR/tars/$hex.tar" | head -c "$len") ||
			{ echo "$f: payload differs from the layer"; return 1; }
		[ "$(head -c "$len" "$f" | sha256sum | cut -c1-64)" = "$(od -An -tx1 -j$((len + 24)) -N32 "$f" | tr -d ' \n')" ] ||
			{ echo "$f: trailer hash"; return 1; }
	done
}
nspans() { find "$1/v1/spans" -type f 2>/dev/null | wc -l | tr -d ' '; }

# case_mount NAME: a fresh cache with the indexes only, mounted through the proxy
case_mount() {
	FSD_CACHE="$HARNESS_DIR/cache.$(printf '%s' "$1" | tr -c 'A-Za-z0-9' _)"
	mkdir -p "$FSD_CACHE/v1"
	cp -a "$WARM/v1/built" "$FSD_CACHE/v1/"
	proxy_mode
	mount_proxy fs/fp:v1 "$MNT" "io_timeout=$TMO" || return 1
	PID=$(fsd_pid "$MNT")
	[ -n "$PID" ]
}

# read_file FILE: cat it to $HARNESS_DIR/got (timed: TAP_RC, TAP_SECS)
read_file() {
	tap_timed sh -c "cat '$MNT/$1' >'$HARNESS_DIR/got'"
}

# prefix_ok FILE: what was read is a prefix of the right content
prefix_ok() {
	cmp -n "$(stat -c %s "$HARNESS_DIR/got")" "$HARNESS_DIR/got" "$WANT/$1"
}

# case_end NAME FILE: alive, mounted, and right bytes once the proxy passes
case_end() {
	tap_ok "$1: the daemon is alive" kill -0 "$PID"
	tap_ok "$1: still mounted" fsd_is_mounted "$MNT"
	proxy_mode
	sleep 0.6 # a failed inode fails fast for FS_FAIL_MEMO_MS (500 ms)
	tap_ok "$1: proxy passing: $2 reads back right" cmp "$WANT/$2" "$MNT/$2"
	tap_ok "$1: every cached span holds the right bytes" spans_ok "$FSD_CACHE"
	tap_ok "$1: unmount" fsd_umount "$MNT"
	# never stack the next case's mount on a leftover
	if fsd_is_mounted "$MNT"; then
		fusermount3 -u -z "$MNT" || true
		harness_fail "$1: $MNT still mounted"
	fi
}

# expect_ok NAME FILE RULE...: the read succeeds with the right bytes
expect_ok() {
	local name=$1 file=$2
	shift 2
	tap_ok "$name: mount" case_mount "$name" || return 0
	proxy_mode "$@"
	read_file "$file"
	if [ "$TAP_RC" = 0 ] && cmp -s "$HARNESS_DIR/got" "$WANT/$file"; then
		tap_pass "$name: $file read right (${TAP_SECS} s)"
	else
		tap_fail "$name: $file read right" "rc $TAP_RC after ${TAP_SECS} s" "$(head -c 2000 "$TAP_OUT")"
	fi
	tap_ok "$name: the fault was applied ($(proxy_hits 0) hits)" test "$(proxy_hits 0)" -ge 1
	CASE_SECS=$TAP_SECS
	case_end "$name" "$file"
}

# expect_eio NAME FILE RULE...: the read fails with EIO within io_timeout + slack
expect_eio() {
	local name=$1 file=$2
	shift 2
	tap_ok "$name: mount" case_mount "$name" || return 0
	proxy_mode "$@"
	read_file "$file"
	if [ "$TAP_RC" != 0 ] && grep -q "Input/output error" "$TAP_OUT"; then
		tap_pass "$name: $file fails with EIO"
	else
		tap_fail "$name: $file fails with EIO" "rc $TAP_RC" "$(head -c 2000 "$TAP_OUT")"
	fi
	tap_ok "$name: ... within io_timeout (${TAP_SECS} s <= $TMO s + $SLACK)" tap_lt "$TAP_SECS" $((TMO + SLACK))
	tap_ok "$name: the bytes read before the error are right" prefix_ok "$file"
	tap_ok "$name: the fault was applied" test "$(proxy_hits 0)" -ge 1
	case_end "$name" "$file"
}

expect_ok "drop once" big/r1.bin "drop after=100000 path=/blobs/ times=1"
expect_eio "drop always" big/r2.bin "drop after=100000 path=/blobs/"
expect_ok "reset once" txt/t3.txt "reset path=/blobs/ times=1"
expect_eio "delay before the headers" big/r3.bin "delay secs=30 path=/blobs/"
expect_eio "delay mid-body" txt/t2.txt "delay secs=30 where=body after=20000 path=/blobs/"
expect_eio "slow body" big/r1.bin "slow rate=200000 path=/blobs/"
expect_ok "200 for a Range request" big/r2.bin "norange path=/blobs/"
expect_ok "200 for a Range request (upper layer)" txt/t1.txt "norange path=/blobs/"
expect_ok "503 twice then OK" big/r3.bin "status code=503 path=/blobs/ times=2"
expect_ok "429 + Retry-After 1" txt/t3.txt "status code=429 retry_after=1 path=/blobs/ times=1"
tap_ok "429: Retry-After honoured (${CASE_SECS} s >= 0.9 s)" tap_lt 0.9 "$CASE_SECS"

# A flipped byte: EIO (never wrong bytes) and the bad span is not cached.
for spec in "flip-mid big/r1.bin flip path=/blobs/" \
	"flip-first big/r2.bin flip offset=100 path=/blobs/" \
	"flip-text txt/t3.txt flip offset=5000 path=/blobs/"; do
	set -- $spec
	name=$1 file=$2
	shift 2
	tap_ok "$name: mount" case_mount "$name" || continue
	proxy_mode "$*"
	read_file "$file"
	if [ "$TAP_RC" != 0 ] && grep -q "Input/output error" "$TAP_OUT"; then
		tap_pass "$name: $file fails with EIO"
	else
		tap_fail "$name: $file fails with EIO" "rc $TAP_RC" "$(head -c 2000 "$TAP_OUT")"
	fi
	tap_ok "$name: ... within io_timeout (${TAP_SECS} s)" tap_lt "$TAP_SECS" $((TMO + SLACK))
	tap_ok "$name: never a wrong byte (the $(stat -c %s "$HARNESS_DIR/got") bytes read are right)" prefix_ok "$file"
	tap_ok "$name: what is cached is right ($(nspans "$FSD_CACHE") span files)" spans_ok "$FSD_CACHE"
	tap_ok "$name: the corrupt span is not cached (not all of $file's spans are)" \
		test "$(nspans "$FSD_CACHE")" -lt 3
	case_end "$name" "$file"
done

# kill -9 during heavy reads, then the same cache again
FSD_CACHE="$HARNESS_DIR/cache.kill"
tap_ok "kill: mount (direct)" fsd_mount fs/fp:v1 "$MNT" "io_timeout=$TMO"
PID=$(fsd_pid "$MNT")
FILES=$(cd "$WANT" && find . -type f | sed 's|^\./||' | sort)
LOOPS=""
for i in 1 2 3 4 5 6; do
	(
		while [ ! -e "$HARNESS_DIR/stop" ]; do
			for f in $FILES; do cat "$MNT/$f" >/dev/null 2>&1 || exit 0; done
		done
	) &
	LOOPS="$LOOPS $!"
done
sleep 1.5
tap_ok "kill: the daemon reads while killed" kill -0 "$PID"
kill -9 "$PID"
# Files already read stay readable from the page cache (opens cost the
# daemon nothing), so a loop may never meet the dead daemon: stop the
# loops; none may hang. A name never looked up needs the daemon: it fails.
sleep 1
touch "$HARNESS_DIR/stop"
for _ in $(seq 1 200); do
	live=0
	for p in $LOOPS; do kill -0 "$p" 2>/dev/null && live=1; done
	[ "$live" = 0 ] && break
	sleep 0.1
done
tap_is "$live" 0 "kill: the cat loops ended after kill -9 (none hangs)"
for p in $LOOPS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
tap_not "kill: a lookup the dead daemon must answer fails" stat "$MNT/never-looked-up"
# gone, or a zombie of whoever reaps the daemonized process
tap_ok "kill: the daemon is gone" fsd_gone "$PID"
if fusermount3 -u "$MNT" 2>"$HARNESS_DIR/fu.err" || umount -l "$MNT" 2>>"$HARNESS_DIR/fu.err"; then
	tap_pass "kill: the dead mount is unmounted"
else
	tap_fail "kill: the dead mount is unmounted" "$(cat "$HARNESS_DIR/fu.err")"
fi
tap_not "kill: nothing left mounted" fsd_is_mounted "$MNT"
tap_diag "spans cached before the kill: $(nspans "$FSD_CACHE")"
tap_ok "kill: remount on the same cache" fsd_mount fs/fp:v1 "$MNT" "io_timeout=$TMO"
tap_is "$(find "$FSD_CACHE/v1/tmp" -type f 2>/dev/null | wc -l | tr -d ' ')" 0 "kill: no tmp file left in the cache"
tap_ok "kill: every span file holds the right bytes" spans_ok "$FSD_CACHE"
tree_dump "$WANT" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
if diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt" >"$HARNESS_DIR/diff.txt"; then
	tap_pass "kill: every file's content right after the remount"
else
	tap_fail "kill: every file's content right after the remount" "$(head -c 3000 "$HARNESS_DIR/diff.txt")"
fi
tap_ok "kill: unmount" fsd_umount "$MNT"
tap_not "nothing left mounted" fsd_is_mounted "$MNT"
tap_done
