#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The data path under faults: a full cache disk (tmpfs of 1 MiB) must not
# fail reads; corrupt bytes from the registry give EIO and are never
# cached; a hanging registry gives EIO at io_timeout; in both cases a later
# read in the same process succeeds once the registry is healthy again.
set -euo pipefail
. "$(dirname "$0")/data_lib.sh"
data_init

SMALL=small/f7.bin

# 1. ENOSPC: the cache dir is a 1 MiB tmpfs.
mkdir -p "$W/tiny"
mount -t tmpfs -o size=1m,mode=0700 stratafs-test "$W/tiny" || harness_fail "cannot mount a tmpfs (needs root)"
harness_on_exit "umount '$W/tiny'"
tap_ok "full cache disk: reads still right" sh -c \
	"'$DRV' --insecure --span-size $SPAN --cache '$W/tiny' '$REF' 'big/rand.bin=$(sha big/rand.bin)' 'big/text.txt=$(sha big/text.txt)' '$SMALL=$(sha "$SMALL")' 2>'$W/enospc.err'"
tap_is "$(grep -c 'cannot write' "$W/enospc.err" || true)" 1 "the full disk is logged once"
# a span of 1 MiB needs more than half of what this cache holds: the cache
# is not emptied to make room for it (it was, the layer's index with it)
tap_ok "... and the layer's index stays" test -s "$W/tiny/v1/built/${LAYER#sha256:}.idx"
tap_ok "and a second run on the full cache too" drv --cache "$W/tiny" "$REF" \
	"big/rand.bin=$(sha big/rand.bin)"
tap_ok "no tmp file left on the full disk" test "$(find "$W/tiny/v1/tmp" -type f | wc -l)" = 0

# 1b. A disk that fills before the cache reaches its bound (here 8 MiB
# under the default 10G): the least recently used files make room, so the
# spans read last get in. Nothing was evicted before: the first spans
# stayed for good, every later write failed with ENOSPC. One fetch worker:
# writers at once may take the room one made, and then a write may still
# fail (once, logged), which is not what is checked here.
mkdir -p "$W/small-disk"
mount -t tmpfs -o size=8m,mode=0700 stratafs-test "$W/small-disk" || harness_fail "cannot mount a tmpfs"
harness_on_exit "umount '$W/small-disk'"
tap_ok "a 20 MiB file through a cache on an 8 MiB disk: read right" sh -c \
	"'$DRV' --insecure --span-size $SPAN --fetch-threads 1 --cache '$W/small-disk' '$REF' 'big/rand.bin=$(sha big/rand.bin)' 2>'$W/fill.err'"
tap_is "$(grep -c 'cannot write' "$W/fill.err" || true)" 0 "... no cache write failed ($(grep -m1 'cannot write' "$W/fill.err"))"
last=$(find "$W/small-disk/v1/spans" -type f -printf '%f\n' | sed -E 's/-.*//' | sort | tail -1)
tap_ok "... the file's last MiB is cached (last span at 0x${last:-none}): old spans made room" \
	test "$((16#${last:-0}))" -ge $((19 << 20))

# 1c. A cache bound smaller than what is read: the layer's index (built at
# open, read from the cache once) stays as new as the layer's newest span,
# so eviction takes old spans, not it. It was the oldest file, the first
# pruned, and the next open had to download the whole layer again.
mkdir -p "$W/bound"
tap_ok "a 20 MiB file through a 4 MiB cache bound: read right" \
	drv --cache "$W/bound" --cache-max 4194304 "$REF" "big/rand.bin=$(sha big/rand.bin)"
tap_ok "... the layer's index is still cached" test -s "$W/bound/v1/built/${LAYER#sha256:}.idx"
# writers at once may each pass the bound by a span before a prune sees them
tap_ok "... the cache is within its bound and a span or two ($(du -sb "$W/bound/v1" | cut -f1) bytes)" \
	test "$(du -sb "$W/bound/v1" | cut -f1)" -le $((4194304 + 2 * 1048576 + 65536))

# Faults come from the fault proxy; the index is built directly first.
C=$W/cache
tap_ok "index built" drv --cache "$C" "$REF"
proxy_start
PREF=$PROXY/data/img:v1

# wait_line FILE TEXT: until FILE has a line containing TEXT (30 s).
wait_line() {
	local i
	for i in $(seq 1 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# 2. Corrupt bytes: EIO, logged, not cached; healthy again -> the same process reads it.
proxy_mode "flip path=/blobs/$LAYER"
"$DRV" --insecure --span-size "$SPAN" --cache "$C" "$PREF" "eio:$SMALL:0:7000" "wait:$W/go1" \
	"$SMALL=$(sha "$SMALL")" >"$W/flip.out" 2>"$W/flip.err" &
pid=$!
tap_ok "corrupt span: EIO" wait_line "$W/flip.out" "ok eio:"
tap_ok "corrupt span: logged" grep -q "fails verification" "$W/flip.err"
tap_is "$(find "$C/v1/spans" -type f 2>/dev/null | wc -l | tr -d ' ')" 0 "corrupt span not cached"
proxy_mode
touch "$W/go1"
rc=0
wait "$pid" || rc=$?
tap_is "$rc" 0 "registry healthy again: the same process reads the file"
tap_ok "  ... and the right bytes" grep -q "^ok $SMALL" "$W/flip.out"

# 3. A hanging registry: EIO at io_timeout, then the store recovers.
proxy_mode "delay secs=6 path=/blobs/"
"$DRV" --insecure --span-size "$SPAN" --cache "$C" --timeout 1500 "$PREF" \
	"eio:big/text.txt:0:4096" "wait:$W/go2" "big/text.txt=$(sha big/text.txt)" \
	>"$W/hang.out" 2>"$W/hang.err" &
pid=$!
tap_ok "hanging registry: EIO" wait_line "$W/hang.out" "ok eio:"
ms=$(sed -nE 's/^ok eio:.* after ([0-9]+) ms$/\1/p' "$W/hang.out")
tap_diag "EIO after ${ms:-?} ms (io_timeout 1500 ms)"
if [ -n "$ms" ] && [ "$ms" -ge 1400 ] && [ "$ms" -le 4000 ]; then
	tap_pass "EIO came at io_timeout"
else
	tap_fail "EIO came at io_timeout" "after ${ms:-?} ms"
fi
proxy_mode
touch "$W/go2"
rc=0
wait "$pid" || rc=$?
tap_is "$rc" 0 "registry back: the same process reads the file"
tap_ok "  ... and the right bytes" grep -q "^ok big/text.txt" "$W/hang.out"

tap_done
