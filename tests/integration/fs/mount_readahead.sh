#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Readahead with small spans (strata push --span-size 64K): a sequential
# read of a large file reads ahead at least 8 MiB of tar whatever the span
# size, and a walk of the tree in tar order (tar -c, one small file after
# the next) is read ahead across files, so neither waits on one small
# request per span. Reads scattered over the layer (every 9th file, in
# reverse) fetch no more than the spans they touch: the walk detector does
# not fire on them. Counted with strata stats (Range requests, spans
# fetched); bytes compared with the source.
# The kernel's readahead on the mount (fs/kernel_ra.h): 512 KiB by default,
# so a file read in order reaches the daemon in FUSE READs of up to 512 KiB,
# not 128 KiB ones; -o kernel_readahead=0 keeps the kernel's 128 KiB, and
# a value out of range is refused. READs counted in the FUSE debug log.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain

S="$HARNESS_DIR/src"
mkdir -p "$S/big" "$S/small"
_fx_rand ra-big 12000000 >"$S/big/rand.bin"
for i in $(seq -w 1 900); do _fx_rand "ra-$i" 20000 >"$S/small/f$i"; done
strata_run push "$S" "$REGISTRY/fs/ra:1" --span-size 64K >/dev/null ||
	harness_fail "cannot push: $(cat "$STRATA_ERR")"

M="$HARNESS_DIR/mnt"
stat_of() { "$STRATA" stats "$M" --json | jq -r "$1"; }

# few_requests WHAT MIN DIV WHY CMD...: on a fresh mount and cache, CMD reads
# WHAT back (exit 0), fetching at least MIN spans in at most spans/DIV
# Range requests
few_requests() {
	local what=$1 min=$2 div=$3 why=$4 req spans rc=0
	shift 4
	fsd_mount fs/ra:1 "$M" || harness_fail "cannot mount"
	"$@" || rc=$?
	tap_is "$rc" 0 "$what reads back"
	req=$(stat_of .totals.fetches) spans=$(stat_of .totals.spans_fetched)
	echo "# $what: $spans spans fetched in $req Range requests"
	tap_ok "... in few Range requests ($req for $spans spans$why)" \
		test "$spans" -ge "$min" -a "$req" -le $((spans / div))
	fsd_umount "$M"
	rm -rf "$FSD_CACHE"
}
few_requests "a 12 MB file" 180 16 " of 64 KiB" cmp "$M/big/rand.bin" "$S/big/rand.bin"
tar_small() {
	(cd "$M" && tar -cf - small) | tar -xf - -C "$HARNESS_DIR" && diff -r "$S/small" "$HARNESS_DIR/small" >/dev/null
}
few_requests "tar -c of 900 small files" 150 4 ": the walk is read ahead across files" tar_small

fsd_mount fs/ra:1 "$M" || harness_fail "cannot mount"
n=0 bad=0
for i in $(seq 900 -9 1); do
	f=$(printf 'small/f%03d' "$i")
	cmp -s "$M/$f" "$S/$f" || bad=$((bad + 1))
	n=$((n + 1))
done
tap_is "$bad" 0 "$n files read in reverse, every 9th: all equal the source"
spans=$(stat_of .totals.spans_fetched)
echo "# scattered reads: $spans spans fetched for $n files"
tap_ok "... fetching only the spans they touch ($spans spans for $n files of 20 KB in 64 KiB spans: no readahead)" \
	test "$spans" -le $((n * 2))
fsd_umount "$M"

# reads_of OPTS KB: mount with FUSE debug, cat big/rand.bin; print the READs it
# took and the mount's read_ahead_kb (waited for up to 5 s to become KB)
reads_of() {
	local log="$HARNESS_DIR/ra-$RANDOM.log" n pid ra
	rm -rf "$FSD_CACHE"
	"$STRATAFS" "$REGISTRY/fs/ra:1" "$M" -d -o "insecure,cache=$FSD_CACHE${1:+,$1}" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do fsd_is_mounted "$M" && break; sleep 0.1; done
	fsd_is_mounted "$M" || { echo "cannot mount: $(tail -3 "$log")" >&2; return 1; }
	for _ in $(seq 1 50); do
		[ "$(cat "/sys/class/bdi/$(mountpoint -d "$M")/read_ahead_kb")" = "$2" ] && break
		sleep 0.1
	done
	ra=$(cat "/sys/class/bdi/$(mountpoint -d "$M")/read_ahead_kb")
	cmp "$S/big/rand.bin" "$M/big/rand.bin" >&2 || return 1
	n=$(grep -c 'opcode: READ (15)' "$log")
	fsd_umount "$M" >&2
	wait "$pid" || true
	echo "$n $ra"
}
read -r n1 ra1 < <(reads_of "" 512)
tap_is "$ra1" 512 "the mount's kernel readahead is 512 KiB by default"
read -r n0 ra0 < <(reads_of kernel_readahead=0 128)
tap_is "$ra0" 128 "-o kernel_readahead=0 keeps the kernel's 128 KiB"
echo "# 12 MB read in order: $n1 FUSE READs (readahead 512 KiB), $n0 (128 KiB)"
tap_ok "... and 512 KiB of readahead cuts the READs of a 12 MB file ($n1 vs $n0) by 3x at least" \
	test -n "$n1" -a -n "$n0" -a "$((n1 * 3))" -le "${n0:-0}"
# Without -f, stratafs returns once the mount answers and its readahead is
# set: a reader started then never has it change under its first reads.
"$STRATAFS" "$REGISTRY/fs/ra:1" "$M" -o "insecure,cache=$FSD_CACHE" ||
	harness_fail "mount (daemonized)"
# the device from mountinfo: stat'ing the mount point would wait for INIT
dev=$(awk -v m="$(realpath "$M")" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
tap_is "$(cat "/sys/class/bdi/$dev/read_ahead_kb")" 512 \
	"when stratafs returns, the mount's readahead is already 512 KiB"
fsd_umount "$M"
rc=0
"$STRATAFS" "$REGISTRY/fs/ra:1" "$M" -o "insecure,cache=$FSD_CACHE,kernel_readahead=1G" \
	2>"$HARNESS_DIR/ra-bad.err" || rc=$?
tap_is "$rc" 2 "kernel_readahead past 64M is refused (exit 2)"
tap_ok "... and says why" grep -q "invalid kernel_readahead" "$HARNESS_DIR/ra-bad.err"
tap_done
