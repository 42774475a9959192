#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Single-frame zstd layers (fs/zstream.c): a layer written as ONE zstd
# frame (zstd CLI) can only be decoded from its start. Reading one large
# file in the middle of it, then the whole tree, must fetch each
# compressed byte at most once: the registry's access log and strata stats
# both say <= 1.05x the blob (each span decoded on its own from the frame
# start cost ~8x here). The memory budget holds: the daemon's peak RSS
# grows by at most mem_max plus the overhead any read has (the pass's
# decoder window, ~2.3 MiB at zstd -3, is counted in mem_max). A read
# behind the pass costs one restart; six such layers read at once share
# the workers. Content is compared with the source tree (GNU tar wrote
# the layers).
. "$(dirname "$0")/mount_lib.sh"
. "$(dirname "$0")/zstd_lib.sh"
fsd_init
registry_start plain

S="$HARNESS_DIR/src"
mkdir -p "$S/a-pre" "$S/z-post"
_fx_text 250000 >"$S/a-pre/a.txt"
for i in $(seq 1 30); do _fx_rand "zs-pre-$i" $((i * 20011)) >"$S/a-pre/s$i"; done
{ _fx_rand zs-big 20000000; _fx_text 300000; _fx_rand zs-big2 4000000; } >"$S/m-big.bin"
_fx_text 120000 >"$S/z-post/z.txt"
for i in $(seq 1 20); do _fx_rand "zs-post-$i" $((i * 7919)) >"$S/z-post/p$i"; done
zstd_push_single "$S" fs/zs:1 || harness_fail "cannot push the single-frame zstd image"
tap_is "$(zstd_frames "$ZS_BLOB")" 1 "the layer is one zstd frame ($ZS_SIZE bytes)"
strata_run index "$REGISTRY/fs/zs:1" --push >/dev/null ||
	harness_fail "cannot index the image: $(cat "$STRATA_ERR")"

# at most 1.05x the blob: "what" N
within() {
	echo "$1: $2 bytes for a blob of $ZS_SIZE"
	[ "$2" -gt 0 ] && [ $(($2 * 100)) -le $((ZS_SIZE * 105)) ]
}
stat_of() { "$STRATA" stats "$M" --json | jq -r ".layers[0].$1"; }

M="$HARNESS_DIR/mnt"
MEM_MAX=$((13 << 20))
# Beside mem_max (which holds the pass's chunks, its decoder's window and
# its spans), what every read costs whatever the compression: thread
# stacks and libc arenas touched by the workers, FUSE and curl buffers.
# A gzip layer of the same tree, through the same budget, grows by 12-15
# MiB here, the single-frame zstd one by 12-16 MiB on a quiet machine,
# up to 19.2 MiB at load average 16-20 (more workers touch arenas at
# once) and 21-22 MiB in a clean-clone CI run beside other builds and
# tests (2026-12-07): 10 MiB of slack. What this guards against is of
# another order: before the budget held, this read peaked at 82 MiB.
BOUND=$((MEM_MAX + (10 << 20)))
case "$(ldd "$STRATAFS" 2>/dev/null)" in
*libasan*)
	# ASan: freed memory goes to quarantine (off here) and every block
	# gets redzones and a size class: half as much again
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
	BOUND=$((BOUND * 3 / 2))
	;;
esac
fsd_mount fs/zs:1 "$M" "mem_max=$MEM_MAX" || harness_fail "cannot mount"
PID=$(fsd_pid "$M")
ls -laR "$M" >/dev/null
HWM0=$(vm_hwm "$PID")
registry_log_mark
tap_is "$(sha256sum <"$M/m-big.bin")" "$(sha256sum <"$S/m-big.bin")" "the large file reads back"
tap_ok "one large file: registry bytes <= 1.05x the blob" \
	within "registry log" "$(registry_bytes_served "$ZS_DIGEST")"
tap_ok "one large file: strata stats bytes <= 1.05x the blob" \
	within "stats" "$(stat_of bytes_fetched)"
# stream, or bulk once the reads passed the density threshold (fs/bulk.c)
tap_ok "strata stats shows the pass: mode $(stat_of mode), $(stat_of stream_passes) pass(es)" \
	test "$(stat_of mode)" != lazy -a "$(stat_of stream_passes)" -ge 1
tap_ok "the whole tree equals the source" diff -r "$S" "$M"
tap_ok "large file, then the whole tree: registry bytes <= 1.05x the blob" \
	within "registry log" "$(registry_bytes_served "$ZS_DIGEST")"
tap_ok "... and strata stats agrees" within "stats" "$(stat_of bytes_fetched)"
HWM=$(vm_hwm "$PID")
tap_ok "peak RSS grew by $(((HWM - HWM0) / 1024)) MiB: <= $((BOUND >> 20)) MiB (mem_max $((MEM_MAX >> 20)) MiB + overhead)" \
	test $(((HWM - HWM0) * 1024)) -le "$BOUND"
fsd_umount "$M"

# The spans a pass only goes through (nobody asked for them) are cached
# unhashed and checked on first read (fs/zstream.c). The attack: one of
# them damaged in the cache after the pass; it must be found out,
# discarded and decoded again, never served. (Were it verified when
# written, it would be trusted, as any file this daemon checked is.)
# under /var/tmp: a disk where /tmp may be tmpfs (the page-cache check below)
FSD_CACHE=$(mktemp -d /var/tmp/stratafs-pass.XXXXXX) || harness_fail "mktemp in /var/tmp"
harness_on_exit "rm -rf '$FSD_CACHE'"
LOG="$HARNESS_DIR/pass.log"
mkdir -p "$M"
"$STRATAFS" "$REGISTRY/fs/zs:1" "$M" -f -o "insecure,cache=$FSD_CACHE,prefetch=none" 2>"$LOG" &
FPID=$!
for _ in $(seq 1 100); do fsd_is_mounted "$M" && break; sleep 0.1; done
fsd_is_mounted "$M" || harness_fail "cannot mount: $(tail -5 "$LOG")"
SZ=$(stat -c %s "$S/m-big.bin")
a=$(dd if="$M/m-big.bin" iflag=skip_bytes,count_bytes skip=$((SZ - 65536)) count=65536 2>/dev/null | sha256sum)
b=$(dd if="$S/m-big.bin" iflag=skip_bytes,count_bytes skip=$((SZ - 65536)) count=65536 2>/dev/null | sha256sum)
tap_is "$a" "$b" "the end of the large file reads back"
SPAN0=""
for _ in $(seq 1 50); do
	SPAN0=$(find "$FSD_CACHE/v1/spans" -type f -name '0000000000000000-*' -print -quit 2>/dev/null)
	[ -n "$SPAN0" ] && break
	sleep 0.1
done
tap_ok "the first span, only gone through, is in the cache" test -n "$SPAN0"
# nobody is about to read it: written around the page cache (fs/cache_dio.h),
# all but the page of its tail and trailer
tap_ok "... written around the page cache ($(fincore -n -o PAGES "$SPAN0" | tr -d ' ') pages resident)" \
	test "$(fincore -n -o PAGES "$SPAN0" | tr -d ' ')" -le 2
# a-pre/a.txt is the tar's first file: its bytes start at 4608 (after ./ and ./a-pre/);
# a span file is the payload then its trailer
printf 'X' | dd of="$SPAN0" bs=1 seek=10000 conv=notrunc status=none
tap_ok "a file of that span, damaged in the cache, reads back right" \
	cmp "$S/a-pre/a.txt" "$M/a-pre/a.txt"
tap_ok "the damage was found and logged" grep -q "discarding cached span 0 " "$LOG"
tap_ok "the whole tree equals the source" diff -r "$S" "$M"
tap_ok "unmount" fsd_umount "$M"
wait "$FPID" || true

# A read behind the pass, with a cache that cannot keep spans (its tmp
# dir, where span files are written before their rename, turned into a
# file once mounted): one restart of the same pass, not one decode from
# the frame start per span. (With a budget below a few spans as well, a
# span evicted under a reader that lags the pass costs another restart:
# nothing holds it anywhere.)
FSD_CACHE="$HARNESS_DIR/cache-none"
mkdir -p "$FSD_CACHE"
fsd_mount fs/zs:1 "$M" "io_timeout=60" || harness_fail "cannot mount"
rm -rf "$FSD_CACHE/v1/tmp" && : >"$FSD_CACHE/v1/tmp"
registry_log_mark
SZ=$(stat -c %s "$S/m-big.bin")
a=$(dd if="$M/m-big.bin" iflag=skip_bytes,count_bytes skip=$((SZ - 65536)) count=65536 2>/dev/null | sha256sum)
b=$(dd if="$S/m-big.bin" iflag=skip_bytes,count_bytes skip=$((SZ - 65536)) count=65536 2>/dev/null | sha256sum)
tap_is "$a" "$b" "the end of the large file reads back"
a=$(dd if="$M/m-big.bin" iflag=skip_bytes,count_bytes skip=1000000 count=65536 2>/dev/null | sha256sum)
b=$(dd if="$S/m-big.bin" iflag=skip_bytes,count_bytes skip=1000000 count=65536 2>/dev/null | sha256sum)
tap_is "$a" "$b" "a range near its start, behind the pass and cached nowhere, reads back"
# One restart is what a quiet machine shows; under load (a full suite on
# two cores) a span the pass produced can be evicted before its slow
# reader took it, and costs one more restart: still a handful, not one
# per span; and each restart fetches at most the blob once more (a full
# CI run saw 2 restarts and 2.6 blobs' bytes, over the bound of 2 blobs
# this check had, which only fits one restart).
p=$(stat_of stream_passes) rs=$(stat_of stream_restarts)
tap_ok "one pass, restarted once (a few times under load): $p pass(es), $rs restart(s)" \
	test "$p" = 1 -a "$rs" -ge 1 -a "$rs" -le 3
tap_ok "two reads far apart: at most one blob's bytes per pass and restart ($rs restart(s))" \
	test "$(registry_bytes_served "$ZS_DIGEST")" -le $(((1 + ${rs:-0}) * ZS_SIZE))
fsd_umount "$M"

# Six single-frame layers read at once (eight fetch workers: at most four
# passes run, the others wait for one to end): every file right, each
# layer fetched once.
FSD_CACHE="$HARNESS_DIR/cache-six"
mkdir -p "$FSD_CACHE"
DIRS=()
for k in 1 2 3 4 5 6; do
	mkdir -p "$HARNESS_DIR/six/$k"
	{ _fx_rand "six-$k" 6000000; _fx_text 60000; } >"$HARNESS_DIR/six/$k/f$k.bin"
	DIRS+=("$HARNESS_DIR/six/$k")
done
zstd_push_layers fs/six:1 3 "${DIRS[@]}" || harness_fail "cannot push the six-layer image"
strata_run index "$REGISTRY/fs/six:1" --push >/dev/null ||
	harness_fail "cannot index the six-layer image: $(cat "$STRATA_ERR")"
six_read() {
	local k pids=() rc=0
	for k in 1 2 3 4 5 6; do
		( [ "$(sha256sum <"$M/f$k.bin")" = "$(sha256sum <"$HARNESS_DIR/six/$k/f$k.bin")" ] ||
			{ echo "f$k.bin differs"; exit 1; } ) &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || rc=1; done
	return $rc
}
fsd_mount fs/six:1 "$M" "io_timeout=60" || harness_fail "cannot mount"
registry_log_mark
tap_ok "six single-frame layers read at once: every file right" timeout 120 bash -c \
	"$(declare -f six_read); M='$M' HARNESS_DIR='$HARNESS_DIR' six_read"
six_bytes() {
	local d total=0 blobs=0
	for d in "${ZS_DIGESTS[@]}"; do
		total=$((total + $(registry_bytes_served "$d")))
		blobs=$((blobs + $(registry_curl "/v2/fs/six/blobs/$d" -sI | sed -nE 's/^[Cc]ontent-[Ll]ength: *([0-9]+).*/\1/p' | tr -d '\r')))
	done
	echo "six layers: $total bytes fetched for $blobs bytes of blobs"
	[ $((total * 100)) -le $((blobs * 105)) ]
}
tap_ok "... each fetched once (<= 1.05x the blobs)" six_bytes
fsd_umount "$M"

# A profile replayed over a single-frame layer: the replay asks the
# layer's forward pass for its spans, and stats say so (prefetched, runs;
# reads are hits or waits, none late). They said prefetched 0 and every
# read late, although the pass had decoded them first.
rm -rf "$HARNESS_DIR/pc1" "$HARNESS_DIR/pc2" && mkdir -p "$HARNESS_DIR/pc1" "$HARNESS_DIR/pc2"
FSD_CACHE=$HARNESS_DIR/pc1 fsd_mount fs/zs:1 "$M" "record=$HARNESS_DIR/zs.prof,prefetch=none" ||
	harness_fail "mount to record"
cat "$M/z-post/z.txt" "$M/a-pre/a.txt" >/dev/null
fsd_umount "$M"
NP=$(grep -c '^span ' "$HARNESS_DIR/zs.prof")
FSD_CACHE=$HARNESS_DIR/pc2 fsd_mount fs/zs:1 "$M" "prefetch=$HARNESS_DIR/zs.prof" || harness_fail "mount to replay"
for _ in $(seq 1 100); do
	[ "$("$STRATA" stats "$M" --json | jq '.layers[0].spans_cached >= '"$NP")" = true ] && break
	sleep 0.1
done
cmp "$M/z-post/z.txt" "$S/z-post/z.txt" && cmp "$M/a-pre/a.txt" "$S/a-pre/a.txt" ||
	tap_fail "the profile's files read right"
tap_is "$("$STRATA" stats "$M" --json | jq -c '.profile | [.prefetched == .spans, .runs > 0, .hits + .waits == .spans, .late]')" \
	"[true,true,true,0]" "a replay on a single-frame layer is counted ($NP spans: prefetched, hits or waits, none late)"
fsd_umount "$M"

# One fetch worker (strata extract --threads 1): asked for a span of a
# single-frame layer, background work queues a forward pass, and the worker
# that queued it must run it, not sleep beside it (its signal woke nobody:
# every read waited out the 30 s timeout, then failed with EIO).
tap_timed timeout 120 "$STRATA" extract "$REGISTRY/fs/zs:1" "$HARNESS_DIR/ex1" --threads 1 \
	--insecure --cache "$HARNESS_DIR/ex1-cache"
tap_ok "extract with one worker ends in ${TAP_SECS}s (exit $TAP_RC, < 20 s), no read timed out" \
	sh -c "[ $TAP_RC = 0 ] && [ ${TAP_SECS%.*} -lt 20 ] && ! grep -q 'timed out' '$TAP_OUT'"
tap_ok "... and writes the layer's tree" diff -r "$S" "$HARNESS_DIR/ex1"
tap_done
