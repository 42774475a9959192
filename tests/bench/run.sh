#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/run.sh [--quick] [--only N[,N...]]
#
# Runs stratafs side by side with its baselines in one run and prints the
# measured values and their ratio against the targets of tests/bench/README.md
# ("Performance targets"). See tests/bench/README.md.
#
# Needs a built tree: BUILDDIR (default ./build) with fs/stratafs and
# tools/strata. Writes $BUILDDIR/bench/results.txt (the table),
# results.json (the rows) and the logs of every program it started.
# Image data is generated once and cached in $BENCH_CACHE
# (default /var/tmp/stratafs-bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1 # keep the source tree clean
BPY="$HERE/bench.py"
GEN_VERSION=v1

QUICK=0
ONLY=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--only) ONLY=",$2,"; shift ;;
	-h | --help) sed -n '3,14p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument '$1' (usage: run.sh [--quick] [--only 1,3])" >&2; exit 2 ;;
	esac
	shift
done

die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- setup
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
[ -d "$BUILDDIR" ] || die "no build tree at BUILDDIR=$BUILDDIR (meson setup build && ninja -C build)"
BUILDDIR=$(cd "$BUILDDIR" && pwd)
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
[ -x "$STRATAFS" ] || die "stratafs binary missing: $STRATAFS (ninja -C $BUILDDIR)"
[ -x "$STRATA" ] || die "strata binary missing: $STRATA (ninja -C $BUILDDIR)"
for t in skopeo umoci curl gzip hyperfine squashfuse mksquashfs fusermount3 mountpoint timeout \
	/usr/bin/docker-registry "$PY"; do
	command -v "$t" >/dev/null || die "required program '$t' is not installed"
done
[ -e /dev/fuse ] || die "/dev/fuse is missing"

if [ "$QUICK" = 1 ]; then
	MODE=quick RUNS=3 RUNS_BASE=1 RUNS_NOIDX=1 HF_RUNS=2
else
	MODE=full RUNS=3 RUNS_BASE=1 RUNS_NOIDX=1 HF_RUNS=3
fi
# The skopeo+umoci baseline is the slowest part (and removing its bundle
# costs as much again on a busy disk): one run unless asked for more.
RUNS_BASE=${BENCH_BASE_RUNS:-$RUNS_BASE}
SPAN=$((4 << 20))
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
DATA="$BENCH_CACHE/$GEN_VERSION-$MODE"
OUT="$BUILDDIR/bench"
rm -rf "$OUT" # this run's outputs only: no stale logs from an earlier run
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
LOG="$OUT/bench.log"
: >"$LOG"
T_START=$EPOCHREALTIME

want() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }
say() { echo "bench: $*" | tee -a "$LOG" >&2; }
# elapsed T0 [T1]: seconds between two $EPOCHREALTIME stamps.
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.6f", b - a }'; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
record() { "$PY" "$BPY" record "$RESULTS" "$@"; }
# readall FILE: read FILE to the end (bounded in time).
readall() { timeout 600 cat "$1" >/dev/null; }
# must CMD...: run, and on failure name the command and stop this benchmark.
must() {
	local rc=0
	"$@" >>"$LOG" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		echo "bench: FAIL: command exited with status $rc: $*" >&2
		tail -n 20 "$LOG" | sed 's/^/    | /' >&2
		exit 1
	fi
}

# Generate (or reuse) the image data.
if [ ! -f "$DATA/meta.json" ]; then
	say "generating the $MODE benchmark image in $DATA (cached for later runs)"
	mkdir -p "$BENCH_CACHE"
	(
		flock 9
		[ -f "$DATA/meta.json" ] || bash "$HERE/gen.sh" "$MODE" "$DATA"
	) 9>"$BENCH_CACHE/.lock" || die "image generation failed: bash $HERE/gen.sh $MODE $DATA"
fi
meta() { "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"m": m}))' "$DATA/meta.json" "$1"; }
layer_field() { meta "[l for l in m['layers'] if l['role']=='$1'][0]['$2']"; }
TARGET_PATH=$("$PY" -c "import sys; sys.path.insert(0, '$HERE'); import bench; print(bench.TARGET_PATH)")
TARGET_SIZE=$("$PY" -c "import sys; sys.path.insert(0, '$HERE'); import bench; print(bench.TARGET_SIZE)")
BIG_PATH=$("$PY" -c "import sys; sys.path.insert(0, '$HERE'); import bench; print(bench.BIG_PATH)")
LAYOUT="$DATA/layout"

# Harness: registry on a free loopback port, temp dir, cleanup trap.
# shellcheck source=../harness/lib.sh
. "$SRCDIR/tests/harness/lib.sh"
harness_init
W="$HARNESS_DIR/bench"
mkdir -p "$W"
MOUNTS_FILE="$W/mounts"
PIDS_FILE="$W/pids"
: >"$MOUNTS_FILE"
: >"$PIDS_FILE"

# ours PID: PID is alive and still one of our daemons (its command line
# names this run's work dir), so a recycled pid is never signalled.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$W/"; }

# Unmount everything this run mounted and end the daemons it started
# (only those: pids and mountpoints are recorded as they are made).
unmount_all() {
	local m p i
	[ -f "$MOUNTS_FILE" ] || return 0
	while read -r m; do
		[ -n "$m" ] || continue
		if grep -q " $m fuse" /proc/mounts 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done <"$MOUNTS_FILE"
	: >"$MOUNTS_FILE"
	while read -r p; do
		[ -n "$p" ] || continue
		for i in $(seq 1 50); do
			ours "$p" || break
			[ "$i" = 20 ] && kill "$p" 2>/dev/null
			sleep 0.1
		done
		ours "$p" && kill -9 "$p" 2>/dev/null
	done <"$PIDS_FILE"
	: >"$PIDS_FILE"
}
harness_on_exit unmount_all

# Fail if /var/cache/stratafs changes under this run (it must use -o cache=).
vcache_sig() { { find /var/cache/stratafs -maxdepth 3 -printf '%p %s %T@\n' 2>/dev/null || true; } | sort | md5sum; }
VCACHE_SIG=$(vcache_sig)

say "mode $MODE, build $BUILDDIR, data $DATA, work dir $W"
say "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
registry_start plain
say "registry $REGISTRY_URL (log $REGISTRY_LOG)"
SKOPEO_OPTS=(--dest-tls-verify=false)
t0=$EPOCHREALTIME
must skopeo copy --quiet "${SKOPEO_OPTS[@]}" "oci:$LAYOUT:full" "docker://$REGISTRY/bench:full"
must skopeo copy --quiet "${SKOPEO_OPTS[@]}" "oci:$LAYOUT:tree" "docker://$REGISTRY/bench:tree"
say "pushed bench:full and bench:tree in $(elapsed "$t0") s"
REF_FULL="$REGISTRY/bench:full"
REF_TREE="$REGISTRY/bench:tree"
SO="insecure,prefetch=none"

reglines() { wc -l <"$REGISTRY_LOG"; }

# strata_mount REF MNT CACHE PROBE: start stratafs -f in the background with
# a fresh cache dir and wait until PROBE (a path under MNT) gives its first
# byte, or until MNT is mounted when PROBE is empty. Sets SPID and STIME
# (seconds from start to first byte / to mounted).
SEQ=0
strata_mount() {
	local ref=$1 mnt=$2 cache=$3 probe=$4 out log
	SEQ=$((SEQ + 1))
	log="$OUT/stratafs-$SEQ.log"
	mkdir -p "$mnt" "$cache"
	echo "$mnt" >>"$MOUNTS_FILE"
	local cmd=("$STRATAFS" "$ref" "$mnt" -f -o "$SO,cache=$cache,io_timeout=60")
	echo "+ ${cmd[*]}  (log $log)" >>"$LOG"
	if [ -n "$probe" ]; then
		out=$("$PY" "$BPY" ttfb --file "$mnt/$probe" --timeout 600 --log "$log" -- "${cmd[@]}") || true
	else
		out=$("$PY" "$BPY" ttfb --mounted "$mnt" --timeout 600 --log "$log" -- "${cmd[@]}") || true
	fi
	SPID=${out#* }
	[ -n "$SPID" ] && [ "$SPID" != "$out" ] && echo "$SPID" >>"$PIDS_FILE"
	STIME=${out%% *}
	if [ "$STIME" = FAIL ] || [ -z "$out" ]; then
		echo "bench: FAIL: ${cmd[*]}" >&2
		echo "bench: stratafs log ($log):" >&2
		tail -n 30 "$log" | sed 's/^/    | /' >&2
		exit 1
	fi
}

# strata_umount MNT PID
strata_umount() {
	local mnt=$1 pid=$2 i
	fusermount3 -u "$mnt" 2>>"$LOG" || {
		sleep 0.5
		fusermount3 -u "$mnt" 2>>"$LOG" || die "fusermount3 -u $mnt failed (busy?)"
	}
	for i in $(seq 1 100); do
		ours "$pid" || return 0
		sleep 0.05
	done
	echo "bench: warning: stratafs $pid still running 5 s after unmount; killing it" >&2
	ours "$pid" && kill "$pid" 2>/dev/null
	return 0
}

# strata_stats MNT FILE: `strata stats MNT --json` into FILE, normalised
# into FILE.norm ({"layers": {digest: bytes}, "total": N, "p50_ms", ...}).
strata_stats() {
	if "$STRATA" stats "$1" --json >"$2" 2>>"$LOG"; then
		"$PY" "$BPY" stats-json "$2" >"$2.norm" 2>>"$LOG" || echo '{}' >"$2.norm"
	else
		echo "bench: warning: strata stats $1 --json failed (see $LOG)" >&2
		echo '{}' >"$2.norm"
	fi
}
jget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2], {"j": j}); print("" if v is None else v)' "$1" "$2" 2>/dev/null || true; }

# index_bytes CACHEDIR: bytes of the layer indexes kept in a cache dir
# (fs/cache.h layout v1: v1/built/<blob hex>.idx, v1/spans/<blob hex>/...).
index_bytes() {
	find "$1" -type f -path '*/v1/built/*.idx' -printf '%s\n' 2>/dev/null |
		awk '{ s += $1 } END { print s + 0 }'
}

# The warm-index cache: mount :full once with an empty cache so that
# stratafs builds (and caches) every layer index, read nothing, unmount.
# Each "index prebuilt" trial copies it to a fresh cache dir.
WARM_INDEX=""
WARM_INDEX_SHOWN=""
prepare_warm_index() {
	local c="$W/warm-index" m="$W/mnt-prep"
	WARM_INDEX="$c"
	[ -n "$WARM_INDEX_SHOWN" ] && return 0
	WARM_INDEX_SHOWN=1
	if [ ! -e "$W/warm-index.ready" ]; then
		strata_mount "$REF_FULL" "$m" "$c" ""
		say "index build at mount (no index anywhere): mounted in $STIME s"
		strata_umount "$m" "$SPID"
		touch "$W/warm-index.ready"
	fi
	[ "$(index_bytes "$c")" != 0 ] || echo "bench: warning: no v1/built/*.idx in the warm-index cache $c" >&2
	say "warm-index cache: $(du -sb "$c" | cut -f1) bytes in $(find "$c" -type f | wc -l) files, index files: $(index_bytes "$c") bytes"
	echo "warm-index cache content:" >>"$LOG"
	find "$c" -printf '%y %s %P\n' | sort -k3 | head -n 50 >>"$LOG"
}
# A fresh cache dir with the indexes only: no span data, no tmp files.
fresh_cache_from_warm() {
	rm -rf "$1" && cp -a "$WARM_INDEX" "$1" && rm -rf "$1/v1/spans" "$1/v1/tmp" &&
		mkdir -p "$1/v1/spans" "$1/v1/tmp"
}

FAILED=()
run_bench() {
	local n=$1 fn=$2 rc=0
	want "$n" || return 0
	say "---- benchmark $n: $3"
	local t0=$EPOCHREALTIME
	("$fn") || rc=$?
	unmount_all
	if [ "$rc" != 0 ]; then
		FAILED+=("$n")
		record n="$n" name="$3" result=FAILED note="see the FAIL line above / $LOG"
	fi
	say "benchmark $n took $(elapsed "$t0") s"
}

# ------------------------------------------------------- 1 + 2: cold start
bench_cold() {
	local digest_b i t b t_sk t_total
	digest_b=$(layer_field data-b digest)
	# Baseline: skopeo copy + umoci unpack, then read the first byte.
	local base=()
	for i in $(seq 1 "$RUNS_BASE"); do
		rm -rf "$W/oci" "$W/bundle"
		t=$EPOCHREALTIME
		must skopeo copy --quiet --src-tls-verify=false "docker://$REF_FULL" "oci:$W/oci:full"
		t_sk=$(elapsed "$t")
		must umoci unpack --image "$W/oci:full" "$W/bundle"
		b=$(head -c1 "$W/bundle/rootfs/$TARGET_PATH" | wc -c)
		t_total=$(elapsed "$t")
		[ "$b" = 1 ] || die "baseline: could not read $TARGET_PATH from the unpacked bundle"
		say "baseline run $i: skopeo copy $t_sk s, + umoci unpack + first byte = $t_total s"
		base+=("$t_total")
		rm -rf "$W/oci" "$W/bundle"
	done
	local base_med
	base_med=$(median "${base[@]}")

	# stratafs, no index anywhere: the mount streams every layer once.
	# The cache of the first run (indexes built, spans dropped later) is the
	# warm-index cache of the "index prebuilt" trials.
	local noidx=()
	for i in $(seq 1 "$RUNS_NOIDX"); do
		strata_mount "$REF_FULL" "$W/mnt-cold" "$W/cache-noidx-$i" "$TARGET_PATH"
		say "stratafs no-index run $i: first byte after $STIME s"
		noidx+=("$STIME")
		strata_umount "$W/mnt-cold" "$SPID"
		if [ ! -e "$W/warm-index.ready" ]; then
			mv "$W/cache-noidx-$i" "$W/warm-index"
			touch "$W/warm-index.ready"
		fi
		rm -rf "$W/cache-noidx-$i"
	done
	local noidx_med
	noidx_med=$(median "${noidx[@]}")
	record n=1 name="cold start to first byte, no index (builds at mount)" value="$noidx_med" unit=s \
		baseline_name="skopeo+umoci" baseline="$base_med" ratio="$(calc "$base_med / $noidx_med")" \
		target=">= 20x" result="$(awk -v r="$(calc "$base_med / $noidx_med")" 'BEGIN{print (r >= 20) ? "PASS" : "below"}')" \
		note="informational: the target assumes indexes exist; stratafs streams every layer once at mount; runs: ${noidx[*]} s"

	# stratafs, index prebuilt: warm index cache, cold data cache.
	prepare_warm_index
	local warm=() lines
	for i in $(seq 1 "$RUNS"); do
		fresh_cache_from_warm "$W/cache-warm-$i"
		lines=$(reglines)
		strata_mount "$REF_FULL" "$W/mnt-cold" "$W/cache-warm-$i" "$TARGET_PATH"
		say "stratafs index-prebuilt run $i: first byte after $STIME s"
		warm+=("$STIME")
		# Benchmark 2: now read the whole file; bytes fetched per layer.
		must readall "$W/mnt-cold/$TARGET_PATH"
		strata_stats "$W/mnt-cold" "$OUT/stats-cold-$i.json"
		sleep 0.3 # let the registry flush its log
		"$PY" "$BPY" reglog "$REGISTRY_LOG" --from "$lines" >"$OUT/reglog-cold-$i.json"
		strata_umount "$W/mnt-cold" "$SPID"
		rm -rf "$W/cache-warm-$i"
	done
	local warm_med ratio
	warm_med=$(median "${warm[@]}")
	ratio=$(calc "$base_med / $warm_med")
	record n=1 name="cold start to first byte, index prebuilt (warm index, cold data)" value="$warm_med" unit=s \
		baseline_name="skopeo+umoci" baseline="$base_med" ratio="$ratio" target=">= 20x (goal 50x)" \
		result="$(awk -v r="$ratio" 'BEGIN{print (r >= 20) ? "PASS" : "FAIL"}')" \
		note="medians; baseline runs: ${base[*]} s; stratafs runs: ${warm[*]} s; last run: mount_ms $(jget "$OUT/stats-cold-$RUNS.json" "j.get('mount', {}).get('mount_ms')"), index sources $(jget "$OUT/stats-cold-$RUNS.json.norm" "','.join(sorted(set(j.get('index_source', {}).values())))")"

	# stratafs, index pinned in the registry (`strata index --push --tag`,
	# not timed), mounted by the pinning index's digest on an EMPTY cache:
	# what a fresh CI machine pays when the indexes are trusted by digest.
	local pinned pin=()
	pinned=$("$STRATA" index "$REF_FULL" --push --tag full-pinned --insecure -q --json \
		--cache "$W/tokens" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pinned"])') ||
		die "strata index --push --tag"
	for i in $(seq 1 "$RUNS"); do
		rm -rf "$W/cache-pin-$i"
		strata_mount "$pinned" "$W/mnt-cold" "$W/cache-pin-$i" "$TARGET_PATH"
		say "stratafs pinned-index run $i: first byte after $STIME s"
		pin+=("$STIME")
		strata_umount "$W/mnt-cold" "$SPID"
		rm -rf "$W/cache-pin-$i"
	done
	local pin_med
	pin_med=$(median "${pin[@]}")
	ratio=$(calc "$base_med / $pin_med")
	record n=1 name="cold start to first byte, pinned index in the registry (empty cache)" \
		value="$pin_med" unit=s baseline_name="skopeo+umoci" baseline="$base_med" ratio="$ratio" \
		target=">= 20x (goal 50x)" result="$(awk -v r="$ratio" 'BEGIN{print (r >= 20) ? "PASS" : "FAIL"}')" \
		note="mounted by digest through a pinning index: indexes fetched by digest, trusted; runs: ${pin[*]} s"

	# Benchmark 2 (last trial): compressed bytes fetched for the one file.
	local c u share bound reg_layer reg_other st_layer st_total
	c=$(layer_field data-b size)
	u=$(layer_field data-b usize)
	share=$(calc "$TARGET_SIZE * $c / $u")
	bound=$(calc "$share + 2 * $SPAN * $c / $u")
	# value = bytes of every layer blob served (other layers should be 0)
	local layers reg_all
	layers=$(meta "[l['digest'] for l in m['layers']]")
	reg_layer=$(jget "$OUT/reglog-cold-$RUNS.json" "j['blobs'].get('$digest_b', 0)")
	reg_all=$(jget "$OUT/reglog-cold-$RUNS.json" "sum(v for k, v in j['blobs'].items() if k in $layers)")
	reg_other=$(jget "$OUT/reglog-cold-$RUNS.json" "sum(v for k, v in j['blobs'].items() if k not in $layers)")
	st_layer=$(jget "$OUT/stats-cold-$RUNS.json.norm" "j['layers'].get('$digest_b')")
	st_total=$(jget "$OUT/stats-cold-$RUNS.json.norm" "j.get('total')")
	local nreq
	nreq=$(jget "$OUT/reglog-cold-$RUNS.json" "j['requests'].get('$digest_b', 0)")
	local mib=$((1 << 20)) res note
	res=$(awk -v a="$reg_all" -v b="$bound" 'BEGIN{print (a <= b) ? "PASS" : "FAIL"}')
	note="file $TARGET_SIZE B in a layer of $c B gzip / $u B tar; bound = share $(calc "$share / $mib") MiB + 2 x 4 MiB spans at the layer's ratio; registry log: $reg_layer B in $nreq GET(s) of that layer, $((reg_all - reg_layer)) B of the other layers, $reg_other B of other blobs (index artifacts, config); strata stats: layer ${st_layer:-n/a} B, total ${st_total:-n/a} B, fetch latency p50/p90/p99 $(jget "$OUT/stats-cold-$RUNS.json.norm" "'%s/%s/%s ms' % (j.get('p50_ms'), j.get('p90_ms'), j.get('p99_ms'))")"
	if [ "$reg_layer" = 0 ]; then
		res=INVALID
		note="$note; NO bytes of the layer were fetched: the prebuilt cache held span data, so this trial was not cold"
	fi
	record n=2 name="bytes fetched to read one file (registry log, all layers)" value="$(calc "$reg_all / $mib")" unit=MiB \
		baseline_name="bound" baseline="$(calc "$bound / $mib")" ratio="$(calc "$reg_all / $bound")" \
		target="<= share + 2 spans" result="$res" note="$note"
}

# --------------------------------------------------- 3: cold sequential read
bench_seq() {
	local digest size usize i t s base=() strat=()
	digest=$(layer_field big digest)
	usize=$(layer_field big usize)
	size=$(layer_field big size)
	local fsize
	fsize=$("$PY" -c "import sys; sys.path.insert(0, '$HERE'); import bench; print(bench.MODES['$MODE']['big_mib'] << 20)")
	prepare_warm_index
	# Interleaved (baseline, stratafs, baseline, ...) so that a change in
	# machine load hits both sides alike.
	for i in $(seq 1 "$RUNS"); do
		t=$EPOCHREALTIME
		curl -sf "$REGISTRY_URL/v2/bench/blobs/$digest" | gzip -dc >/dev/null ||
			die "baseline failed: curl -sf $REGISTRY_URL/v2/bench/blobs/$digest | gzip -dc"
		s=$(elapsed "$t")
		base+=("$(calc "$usize / $s / 1e6")")
		fresh_cache_from_warm "$W/cache-seq-$i"
		strata_mount "$REF_FULL" "$W/mnt-seq" "$W/cache-seq-$i" ""
		t=$EPOCHREALTIME
		must readall "$W/mnt-seq/$BIG_PATH"
		s=$(elapsed "$t")
		strat+=("$(calc "$fsize / $s / 1e6")")
		say "run $i: curl|gzip -dc ${base[-1]} MB/s; stratafs cold cat $BIG_PATH: $s s = ${strat[-1]} MB/s"
		strata_stats "$W/mnt-seq" "$OUT/stats-seq-$i.json"
		strata_umount "$W/mnt-seq" "$SPID"
		rm -rf "$W/cache-seq-$i"
	done
	local bm sm ratio
	bm=$(median "${base[@]}")
	sm=$(median "${strat[@]}")
	ratio=$(calc "$sm / $bm")
	record n=3 name="cold sequential read, $((fsize >> 20)) MiB file (own gzip layer of $((size >> 20)) MiB)" \
		value="$sm" unit=MB/s baseline_name="curl|gzip -dc" baseline="$bm" ratio="$ratio" target=">= 0.9x" \
		result="$(awk -v r="$ratio" 'BEGIN{print (r >= 0.9) ? "PASS" : "FAIL"}')" \
		note="medians of $RUNS runs (MB = 1e6 B of uncompressed data); stratafs: ${strat[*]}; baseline: ${base[*]}; last stratafs run: $(jget "$OUT/stats-seq-$RUNS.json.norm" "'%s range GETs, %s B fetched, latency p50/p90/p99 %s/%s/%s ms' % (j.get('fetches'), j.get('total'), j.get('p50_ms'), j.get('p90_ms'), j.get('p99_ms'))")"
}

# --------------------------------------- 4 + 6: warm find/read, daemon memory
bench_tree() {
	local m="$W/mnt-tree" q="$W/mnt-sq" c="$W/cache-tree" n1 n2 sqpid hwm_build
	# First mount builds the index (streams the layer); its peak RSS is
	# noted. The measured mount then starts from that index (cache holds
	# indexes only), like a mount of an image whose index exists.
	strata_mount "$REF_TREE" "$m" "$c-build" ""
	hwm_build=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$SPID/status" 2>/dev/null || echo 0)
	say "stratafs :tree mounted (index built at mount) in $STIME s, VmHWM $((hwm_build >> 20)) MiB"
	strata_umount "$m" "$SPID"
	rm -rf "$c" && cp -a "$c-build" "$c" && rm -rf "$c/v1/spans" && mkdir -p "$c/v1/spans"
	strata_mount "$REF_TREE" "$m" "$c" ""
	local tpid=$SPID
	say "stratafs :tree mounted (index prebuilt) in $STIME s"
	mkdir -p "$q"
	echo "$q" >>"$MOUNTS_FILE"
	echo "+ squashfuse -f $DATA/tree.squashfs $q" >>"$LOG"
	squashfuse -f "$DATA/tree.squashfs" "$q" >>"$LOG" 2>&1 &
	sqpid=$!
	echo "$sqpid" >>"$PIDS_FILE"
	local i
	for i in $(seq 1 100); do
		grep -q " $q fuse" /proc/mounts && break
		sleep 0.05
	done
	grep -q " $q fuse" /proc/mounts || die "squashfuse -f $DATA/tree.squashfs $q did not mount"
	# Warm both: read everything once (stratafs fetches and caches it all).
	local t=$EPOCHREALTIME
	must timeout 900 sh -c "find '$m' -type f -exec cat {} + >/dev/null"
	say "warm-up read of the stratafs mount (cold data): $(elapsed "$t") s"
	must timeout 900 sh -c "find '$q' -type f -exec cat {} + >/dev/null"
	n1=$(cd "$m" && find . | wc -l)
	n2=$(cd "$q" && find . | wc -l)
	say "entries: stratafs $n1, squashfuse $n2"
	local hf="$OUT/hyperfine-tree.json"
	must hyperfine --style basic --warmup 1 --runs 5 --export-json "$hf" \
		-n "find stratafs" "find '$m' | wc -l" \
		-n "find squashfuse" "find '$q' | wc -l"
	# Both trees were read once already: no warm-up run needed.
	must hyperfine --style basic --runs "$HF_RUNS" --export-json "$hf.read" \
		-n "read stratafs" "find '$m' -type f -exec cat {} + >/dev/null" \
		-n "read squashfuse" "find '$q' -type f -exec cat {} + >/dev/null"
	local med
	mapfile -t med < <("$PY" "$BPY" hyperfine-med "$hf" "$hf.read")
	local rf rr
	rf=$(calc "${med[1]} / ${med[0]}")
	rr=$(calc "${med[3]} / ${med[2]}")
	local cnote=""
	[ "$n1" = "$n2" ] || cnote="; entry counts differ: stratafs $n1, squashfuse $n2"
	record n=4 name="warm find over $n1 entries" value="${med[0]}" unit=s baseline_name=squashfuse baseline="${med[1]}" \
		ratio="$rf" target=">= 0.8x" result="$(awk -v r="$rf" 'BEGIN{print (r >= 0.8) ? "PASS" : "FAIL"}')" \
		note="hyperfine median of 5 runs, ratio = squashfuse time / stratafs time$cnote"
	record n=4 name="warm read of every file (find -exec cat)" value="${med[2]}" unit=s baseline_name=squashfuse baseline="${med[3]}" \
		ratio="$rr" target=">= 0.8x" result="$(awk -v r="$rr" 'BEGIN{print (r >= 0.8) ? "PASS" : "FAIL"}')" \
		note="hyperfine median of $HF_RUNS runs; both mounts read once before"

	# 6: daemon memory after the find/read over all entries.
	local hwm rss ib budget
	hwm=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$tpid/status" 2>/dev/null || true)
	rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$tpid/status" 2>/dev/null || true)
	ours "$tpid" || die "stratafs of the :tree mount (pid $tpid) is gone"
	[ -n "$hwm" ] || die "cannot read /proc/$tpid/status (stratafs pid of the :tree mount)"
	ib=$(index_bytes "$c")
	budget=$(calc "32 * 1048576 + 1.5 * $ib")
	strata_stats "$m" "$OUT/stats-tree.json"
	local res
	res=$(awk -v a="$hwm" -v b="$budget" 'BEGIN{print (a <= b) ? "PASS" : "FAIL"}')
	local inote=""
	[ "$ib" = 0 ] && inote="; NO index file found in the cache dir: budget = 32 MiB only"
	record n=6 name="daemon peak RSS (VmHWM) after find+read of $n1 entries" value="$(calc "$hwm / 1048576")" unit=MiB \
		baseline_name="32MiB+1.5*index" baseline="$(calc "$budget / 1048576")" ratio="$(calc "$hwm / $budget")" \
		target="<= budget" result="$res" \
		note="mount with the index prebuilt; index files in the cache dir: $ib B; VmRSS now $(calc "${rss:-0} / 1048576") MiB; a mount that builds the index itself peaked at $(calc "$hwm_build / 1048576") MiB right after mounting$inote"
	strata_umount "$m" "$tpid"
	fusermount3 -u "$q" || die "fusermount3 -u $q failed"
}

# -------------------------------------------------------- 5: index build
bench_index() {
	local role digest blob usize hf med ratio
	for role in big small; do
		digest=$(layer_field "$role" digest)
		usize=$(layer_field "$role" usize)
		blob="$LAYOUT/blobs/sha256/${digest#sha256:}"
		# One checked run first, so that a broken `strata index` fails loudly.
		echo "+ $STRATA index $blob -o $W/idx-$role" >>"$LOG"
		"$STRATA" index "$blob" -o "$W/idx-$role" >"$OUT/index-$role.out" 2>&1 ||
			{ cat "$OUT/index-$role.out" >&2; die "$STRATA index $blob -o $W/idx-$role"; }
		hf="$OUT/hyperfine-index-$role.json"
		must hyperfine --style basic --runs "$HF_RUNS" --export-json "$hf" \
			-n "strata index" "'$STRATA' index '$blob' -o '$W/idx-$role'" \
			-n "gzip -dc" "gzip -dc '$blob' >/dev/null"
		mapfile -t med < <("$PY" "$BPY" hyperfine-med "$hf")
		ratio=$(calc "${med[1]} / ${med[0]}")
		record n=5 name="index build, $role layer ($(($(stat -c %s "$blob") >> 20)) MiB gzip)" \
			value="$(calc "$usize / ${med[0]} / 1e6")" unit=MB/s baseline_name="gzip -dc" \
			baseline="$(calc "$usize / ${med[1]} / 1e6")" ratio="$ratio" target=">= 0.9x" \
			result="$(awk -v r="$ratio" 'BEGIN{print (r >= 0.9) ? "PASS" : "FAIL"}')" \
			note="hyperfine medians of $HF_RUNS runs; index size $(stat -c %s "$W/idx-$role" 2>/dev/null || echo '?') B; strata index says: $(grep -E '^(build|index size|spans|random access):' "$OUT/index-$role.out" | tr -s ' \n' ' ')"
	done
}

run_bench 1 bench_cold "cold start to first byte + bytes fetched (1, 2)"
run_bench 3 bench_seq "cold sequential read of a large file"
run_bench 4 bench_tree "warm find/read vs squashfuse + daemon memory (4, 6)"
run_bench 5 bench_index "index build vs gzip -dc"
# TODO(push benchmark, later issue): `strata push DIR REF` vs
# `tar -c | gzip | curl -T` (target >= 1x; with zstd >= 2x) is not part of
# this run. tests/bench/push.sh (the push issue's own script) measures it
# separately; fold it in here once that issue is done.
record n=7 name="push of a directory" result="TODO" baseline_name="tar|gzip|curl -T" target=">= 1x; zstd >= 2x" \
	note="not measured by run.sh (push issue); see tests/bench/push.sh, run on its own; no number is reported here"

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
TOTAL=$(elapsed "$T_START")
{
	echo "stratafs benchmarks ($MODE) $(date -u +%Y-%m-%dT%H:%M:%SZ); bench scripts at git $(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "binaries: $STRATAFS ($("$STRATAFS" -V 2>&1 | head -n 1)), built $(date -u -r "$STRATAFS" +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) cores; load average at the end: $LOAD_END (shared machine: figures under load are noisy)"
	echo
	"$PY" "$BPY" table "$RESULTS"
	echo
	echo "run time: $(printf '%.0f' "$TOTAL") s; logs in $OUT"
} | tee "$OUT/results.txt"
"$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()], indent=1))' \
	"$RESULTS" >"$OUT/results.json"

unmount_all
if [ "$(vcache_sig)" != "$VCACHE_SIG" ]; then
	echo "bench: warning: /var/cache/stratafs changed during the run (this run only uses -o cache=; another process?)" >&2
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "bench: FAILED benchmark(s): ${FAILED[*]}" >&2
	exit 1
fi
