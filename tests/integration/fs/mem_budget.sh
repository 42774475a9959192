#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -o mem_max (fs/span_mem.c) under load: 16 readers at once over a tiny
# budget (mem_max=1: one job at a time, every hot span evicted by the next
# one), with prefetch=all racing them, then with a cache that cannot store
# a span (its tmp dir is a file), where the data exists only in
# memory: every reader must still get the right bytes, without EIO and
# without a hang (each phase runs under timeout), and the daemon must
# unmount cleanly.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain

S="$HARNESS_DIR/src"
mkdir -p "$S/small"
_fx_rand mem-r 24000000 >"$S/r.bin"
_fx_text 6000000 >"$S/t.txt"
for i in $(seq 1 200); do _fx_rand "mem-s-$i" $((i * 613)) >"$S/small/s$i"; done
strata_run push "$S" "$REGISTRY/fs/mem:1" --span-size 1048576 >/dev/null ||
	harness_fail "cannot push the image: $(cat "$STRATA_ERR")"

# 16 readers (dd at fixed pseudo-random offsets, 64 KiB to 3 MiB, some
# across span boundaries) plus a whole-file sha256 of each big file, all
# at once; prints what differs. 0 when every byte matches.
readers() {
	local mnt=$1 pids=() i rc=0 f off n
	for i in $(seq 1 16); do
		f=r.bin
		[ $((i % 4)) = 0 ] && f=t.txt
		off=$(((i * 2654435761) % 5800000 + (i % 3) * 1048570))
		n=$((65536 << (i % 6)))
		(
			a=$(dd if="$mnt/$f" iflag=skip_bytes,count_bytes skip=$off count=$n bs=128K 2>/dev/null | sha256sum)
			b=$(dd if="$S/$f" iflag=skip_bytes,count_bytes skip=$off count=$n bs=128K 2>/dev/null | sha256sum)
			[ "$a" = "$b" ] || { echo "$f @$off+$n differs (or EIO)"; exit 1; }
		) &
		pids+=($!)
	done
	for f in r.bin t.txt small/s200; do
		(
			[ "$(sha256sum <"$mnt/$f")" = "$(sha256sum <"$S/$f")" ] || { echo "$f: whole file differs"; exit 1; }
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	return $rc
}

# phase NAME OPTS [CMD]: mount, CMD, readers under a 60 s timeout, unmount
phase() {
	local opts=$2 mnt="$HARNESS_DIR/mnt-$1" out rc=0
	fsd_mount fs/mem:1 "$mnt" "$opts" || { echo "mount failed"; return 1; }
	[ -z "${3:-}" ] || $3 || { echo "$3 failed"; return 1; }
	export -f readers
	export S
	out=$(timeout 60 bash -c "readers '$mnt'" 2>&1) || rc=$?
	[ "$rc" = 124 ] && echo "hang: readers still running after 60 s"
	[ -z "$out" ] || echo "$out"
	fsd_umount "$mnt" || rc=1
	return $rc
}

tap_ok "mem_max=1, prefetch=all: 16 readers get the right bytes, no hang" \
	phase tiny "mem_max=1,prefetch=all"
tap_ok "default budget: the same, from the cache the first phase filled" \
	phase warm ""

# A cache that cannot keep spans: once mounted, its tmp dir, where each
# span file is written before its rename, becomes a file. Only the hot
# copies in the budget hold the data.
FSD_CACHE="$HARNESS_DIR/cache-nospans"
mkdir -p "$FSD_CACHE/v1"
cp -a "$HARNESS_DIR/cache/v1/built" "$FSD_CACHE/v1/"
break_tmp() { rm -rf "$FSD_CACHE/v1/tmp" && : >"$FSD_CACHE/v1/tmp"; }
unbreak_tmp() { rm -f "$FSD_CACHE/v1/tmp"; }
tap_ok "cache cannot store spans, mem_max=1, io_timeout=20: 16 readers, no EIO" \
	phase nospans "mem_max=1,io_timeout=20" break_tmp
unbreak_tmp
tap_ok "cache cannot store spans, default budget, prefetch=all" \
	phase nospans2 "io_timeout=20,prefetch=all" break_tmp
unbreak_tmp

# A span decoded for readers that wait for it is theirs until they have
# copied from it: 16 direct 4 KiB reads of 16 different spans cost 16
# fetches at most, even when the next job's admission must evict it
# (mem_max=1) and the cache cannot keep it. Without that, a woken reader
# may find its span gone, fetch it again, and again.
LAYER=$(ls "$HARNESS_DIR/cache/v1/spans")
direct_reads() {
	local mnt=$1 pids=() k rc=0
	for k in $(seq 0 15); do
		(
			off=$((k * 1048576 + 8192))
			a=$(dd if="$mnt/r.bin" iflag=direct,skip_bytes skip=$off bs=4096 count=1 2>/dev/null | sha256sum)
			b=$(dd if="$S/r.bin" iflag=skip_bytes skip=$off bs=4096 count=1 2>/dev/null | sha256sum)
			[ "$a" = "$b" ] || { echo "r.bin @$off+4096 differs (or EIO)"; exit 1; }
		) &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || rc=1; done
	return $rc
}
pinned() {
	local mnt="$HARNESS_DIR/mnt-pinned" gets rc=0
	fsd_mount fs/mem:1 "$mnt" "mem_max=1,io_timeout=20" || return 1
	break_tmp || return 1
	registry_log_mark
	timeout 60 bash -c "direct_reads '$mnt'" || rc=1
	gets=$(registry_requests GET "/blobs/sha256:$LAYER\$")
	echo "$gets range requests of the layer for 16 reads"
	[ "$gets" -le 16 ] || rc=1
	fsd_umount "$mnt" || rc=1
	return $rc
}
export -f direct_reads
export S
# (prefetch=all in the phase before may have stored a span or two between
# its mount and break_tmp: count what this phase adds)
n_spans() { find "$FSD_CACHE/v1/spans" -type f 2>/dev/null | wc -l | tr -d ' '; }
BEFORE=$(n_spans)
tap_ok "a span fetched for waiting readers is not evicted before they copy it" pinned
unbreak_tmp
tap_is "$(n_spans)" "$BEFORE" "no span was cached"
tap_done
