#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/build.sh [--runs N] [--only app,big,bigapp,commit,ccache] [--no-proxy]
#                      [--big-span N] [--save]
#
# The user's whole build, side by side in one run (issue 15): `npm ci
# --offline` of a 22-package project with its npm cache
#   (a) from a tar.gz downloaded from the registry and extracted,
#   (b1) mounted by stratafs under an overlay, first build: no profile,
#   (b2) the same, mounting what the first build committed: its profile
#        replayed,
#   (c) in a warm local dir (the floor),
# each on loopback and behind the delay proxy (fault_proxy.py's `wan`:
# 20-40 ms per request, one 100 MB/s link); then a large cache of which
# the build reads little ("big": the npm caches of several projects,
# 1 GB, and `npm ci` of the small one of them, 84 packages; "bigapp": the
# 22-package one over the same cache), pushed with spans of --big-span
# bytes (default: strata push's); then the
# bytes uploaded by the 2nd and 3rd `strata commit` of the npm build (and
# of a ccache build when ccache is installed) against the bytes the build
# really changed. Every (b) run starts with an empty stratafs cache, as a
# fresh CI machine does. Prints medians and ratios against the targets,
# and (a)/(c): what the tarball costs over the floor, the most any cache
# can gain on this build. With --save, each (a) and (b) run also ends
# the way its workflow ends a CI job, and that time is shown apart: (a)
# packs the cache dir again (tar.gz) and uploads it, (b) unmounts the
# overlay and runs `strata commit` of its upper dir (what the build
# changed, with the access profile); (c), a dir that stays on the
# machine, saves nothing.
#
# Needs a built tree (BUILDDIR, default ./build), npm, and the npm
# registry once: the projects are built by npm_fixture.sh and cached in
# $BENCH_CACHE/npm-v1 (default /var/tmp/stratafs-bench). Writes
# $BUILDDIR/bench-build/results.txt and the logs.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

RUNS=3
ONLY=",app,big,bigapp,commit,ccache,"
PROXY_TOO=1
BIG_SPAN=
SAVE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) RUNS=$2; shift ;;
	--only) ONLY=",$2,"; shift ;;
	--no-proxy) PROXY_TOO=0 ;;
	--big-span) BIG_SPAN=$2; shift ;;
	--save) SAVE=1 ;;
	-h | --help) sed -n '3,31p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
want() { [[ "$ONLY" == *",$1,"* ]]; }
die() { echo "build.sh: FAIL: $*" >&2; exit 1; }

BUILDDIR=$(cd "${BUILDDIR:-$SRCDIR/build}" && pwd) || die "no build tree (BUILDDIR)"
STRATAFS=$BUILDDIR/fs/stratafs
STRATA=$BUILDDIR/tools/strata
for t in npm node curl tar gzip jq fusermount3 /usr/bin/docker-registry; do
	command -v "$t" >/dev/null || die "required program '$t' is not installed"
done
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
FIX=$BENCH_CACHE/npm-v1
mkdir -p "$BENCH_CACHE"
(
	flock 9
	[ -d "$FIX/cache-app" ] || bash "$HERE/npm_fixture.sh" "$FIX"
	[ -d "$FIX/small" ] || bash "$HERE/npm_fixture.sh" --small "$FIX"
) 9>"$BENCH_CACHE/.npm.lock" || die "npm fixture failed: bash $HERE/npm_fixture.sh $FIX"

OUT=$BUILDDIR/bench-build
rm -rf "$OUT"
mkdir -p "$OUT"
RES=$OUT/results.txt
: >"$RES"
say() { echo "build.sh: $*" | tee -a "$OUT/log" >&2; }
row() { printf '%s\n' "$*" | tee -a "$RES"; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }
span() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.1f-%.1f", a, b }'; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# shellcheck source=../harness/lib.sh
. "$SRCDIR/tests/harness/lib.sh"
harness_init
W=$HARNESS_DIR/w
mkdir -p "$W"
MOUNTS=("$W/b" "$W/cc")
cleanup_mounts() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount -l "$m/merged" 2>/dev/null || true
		fusermount3 -uz "$m/lower" 2>/dev/null || true
	done
}
harness_on_exit cleanup_mounts
registry_start plain
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
say "load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; fixture $FIX; work $W"

# ---- images: the caches as stratafs images and as tarballs, in the registry ----
# upload_blob REPO FILE [BASE_URL]: a monolithic upload; prints the digest
upload_blob() {
	local d loc base=${3:-$REGISTRY_URL}
	d="sha256:$(sha256sum "$2" | cut -d' ' -f1)"
	loc=$(curl -fsS -X POST -D - -o /dev/null "$base/v2/$1/blobs/uploads/" |
		sed -nE 's/^[Ll]ocation: *([^\r]*).*/\1/p')
	case "$loc" in http*) ;; *) loc=$base$loc ;; esac
	case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
	curl -fsS -X PUT --data-binary "@$2" -H 'Content-Type: application/octet-stream' "$loc" >/dev/null
	echo "$d"
}
declare -A TGZ
for c in app big; do
	want "$c" || { [ "$c" = app ] && want commit; } || { [ "$c" = big ] && want bigapp; } || continue
	span_opt=()
	[ "$c" = big ] && [ -n "$BIG_SPAN" ] && span_opt=(--span-size "$BIG_SPAN")
	"$STRATA" push "$FIX/cache-$c" "$REGISTRY/npm/$c:v1" --insecure -q --json "${span_opt[@]}" >"$OUT/push-$c.json" ||
		die "strata push of cache-$c"
	tar -C "$FIX/cache-$c" -czf "$W/$c.tgz" .
	TGZ[$c]=$(upload_blob npm/tar "$W/$c.tgz")
	say "cache-$c: $(du -sm "$FIX/cache-$c" | cut -f1) MB, image layer $(($(jq .layer_size "$OUT/push-$c.json") >> 20)) MiB, tar.gz $(($(stat -c %s "$W/$c.tgz") >> 20)) MiB"
done

# ---- one build ----
# fresh_app: the project $PROJ without node_modules (outside the timed part)
PROJ=app
fresh_app() {
	rm -rf "$W/app"
	mkdir -p "$W/app"
	cp "$FIX/$PROJ/package.json" "$FIX/$PROJ/package-lock.json" "$W/app/"
}
# npm_ci CACHE: npm ci --offline of the project with that npm cache; its log in $W/npm.log
npm_ci() {
	(cd "$W/app" && npm ci --offline --cache "$1" >"$W/npm.log" 2>&1) ||
		{ tail -5 "$W/npm.log" >&2; die "npm ci --offline --cache $1"; }
}
# mount_ovl HOSTREF NAME: stratafs (empty cache) on $W/NAME/lower, overlay on $W/NAME/merged
mount_ovl() {
	local n=$W/$2
	rm -rf "$n"
	mkdir -p "$n/lower" "$n/upper" "$n/work" "$n/merged" "$n/cache"
	MOUNTS+=("$n")
	# in the foreground, its log kept: the daemon has no syslog here
	"$STRATAFS" "$1" "$n/lower" -f -o "insecure,log=info,cache=$n/cache${MNT_OPTS:+,$MNT_OPTS}" \
		>/dev/null 2>>"$OUT/daemon-$2.log" &
	echo $! >"$W/$2.pid"
	for _ in $(seq 1 500); do
		grep -q " $n/lower fuse" /proc/mounts && break
		kill -0 $! 2>/dev/null || die "mount $1 (see $OUT/daemon-$2.log)"
		sleep 0.01
	done
	mount -t overlay overlay -o "lowerdir=$n/lower,upperdir=$n/upper,workdir=$n/work" "$n/merged"
}
umount_ovl() { umount "$W/$1/merged"; }
# unmount and wait for the daemon to end (it may still write its cache)
umount_lower() {
	local pid
	pid=$(cat "$W/$1.pid")
	fusermount3 -u "$W/$1/lower"
	for _ in $(seq 1 500); do
		grep -qs '^State:[[:space:]]*[^Z[:space:]]' "/proc/$pid/status" || break # gone, or a zombie
		sleep 0.01
	done
	rm -rf "$W/$1/cache"
}

# one_build KIND HOST CACHE: prints the wall time of one build; KIND is
# tar (download + extract + build), mnt (mount + build, the image CACHE:TAG),
# local. With --save, "BUILD TOTAL": TOTAL adds the save that ends the job.
one_build() {
	local kind=$1 host=$2 c=$3 t0 tb
	fresh_app
	sync
	case $kind in
	tar)
		rm -rf "$W/x"
		mkdir -p "$W/x"
		sync
		t0=$EPOCHREALTIME
		curl -fsS "http://$host/v2/npm/tar/blobs/${TGZ[$c]}" | tar -xzf - -C "$W/x"
		npm_ci "$W/x"
		tb=$(since "$t0")
		if [ "$SAVE" = 1 ]; then
			tar -C "$W/x" -czf "$W/save.tgz" .
			upload_blob npm/tar-saved "$W/save.tgz" "http://$host" >/dev/null
			echo "$tb $(since "$t0")"
		else
			echo "$tb"
		fi
		rm -rf "$W/x" "$W/save.tgz" ;;
	mnt)
		t0=$EPOCHREALTIME
		mount_ovl "$host/npm/$c" b
		npm_ci "$W/b/merged"
		tb=$(since "$t0")
		"$STRATA" stats "$W/b/lower" --json >"$W/last-stats.json"
		if [ "$SAVE" = 1 ]; then
			umount_ovl b
			"$STRATA" commit "$W/b/upper" "$host/npm/${c%%:*}:saved-${EPOCHREALTIME/./}" --base "$W/b/lower" --insecure -q \
				>/dev/null || die "commit of a build's upper dir"
			echo "$tb $(since "$t0")"
		else
			echo "$tb"
			umount_ovl b
		fi ;;
	local)
		t0=$EPOCHREALTIME
		npm_ci "$W/warm-$c"
		since "$t0" ;;
	esac
}

# side_by_side CACHE HOST LABEL [PROJECT]: (a), (b1), (b2), (c) RUNS times, interleaved
side_by_side() {
	local c=$1 host=$2 label=$3
	PROJ=${4:-app}
	local i ta=() tb1=() tb2=() tc=() sa=() sb1=() sb2=() v2="v2-$label-$PROJ" t pf="" x y
	[ -d "$W/warm-$c" ] || { cp -a "$FIX/cache-$c" "$W/warm-$c"; fresh_app; npm_ci "$W/warm-$c"; }
	# the first build commits its upper dir (and profile): (b2) mounts that
	t=$(SAVE=0 one_build mnt "$host" "$c:v1")
	"$STRATA" commit "$W/b/upper" "$host/npm/$c:$v2" --base "$W/b/lower" --insecure -q --json \
		>"$OUT/commit-$c-$label.json" || die "commit of the first build"
	umount_lower b
	say "$c/$label: first build $t s (not counted), committed $v2, profile $(jq -r .profile "$OUT/commit-$c-$label.json")"
	for i in $(seq 1 "$RUNS"); do
		t=$(one_build tar "$host" "$c")
		read -r x y <<<"$t"
		ta+=("$x") sa+=("${y:-$x}")
		t=$(one_build mnt "$host" "$c:v1")
		read -r x y <<<"$t"
		tb1+=("$x") sb1+=("${y:-$x}")
		say "$c/$label run $i b1 stats: $(jq -c '{fetched: .totals.bytes_fetched, fetches: .totals.fetches, misses: .totals.cache_misses}' "$W/last-stats.json")"
		umount_lower b
		t=$(one_build mnt "$host" "$c:$v2")
		read -r x y <<<"$t"
		tb2+=("$x") sb2+=("${y:-$x}")
		pf=$(jq -c '.profile | {spans, prefetched, runs, hits, waits, late}' "$W/last-stats.json")
		say "$c/$label run $i b2 stats: $(jq -c '{fetched: .totals.bytes_fetched, fetches: .totals.fetches, misses: .totals.cache_misses}' "$W/last-stats.json") profile $pf"
		umount_lower b
		tc+=("$(one_build local "$host" "$c")")
		say "$c/$label run $i: a ${ta[-1]}  b1 ${tb1[-1]}  b2 ${tb2[-1]}  c ${tc[-1]}$([ "$SAVE" = 1 ] &&
			echo "  with the save: a ${sa[-1]}  b1 ${sb1[-1]}  b2 ${sb2[-1]}")"
	done
	local a b1 b2 cc
	a=$(med "${ta[@]}") b1=$(med "${tb1[@]}") b2=$(med "${tb2[@]}") cc=$(med "${tc[@]}")
	row ""
	row "npm ci --offline of '$PROJ', cache '$c', $label ($RUNS runs, medians, range):"
	row "  (a) tarball download + extract + build  $a s  ($(span "${ta[@]}"))"
	row "  (b1) stratafs + overlay, no profile      $b1 s  ($(span "${tb1[@]}"))   (a)/(b1) = $(calc "$a / $b1")x"
	row "  (b2) stratafs + overlay, profile         $b2 s  ($(span "${tb2[@]}"))   (a)/(b2) = $(calc "$a / $b2")x   (b2)/(c) = $(calc "$b2 / $cc")x"
	row "  (c) warm local dir                       $cc s  ($(span "${tc[@]}"))   (a)/(c) = $(calc "$a / $cc")x: the most any cache can gain here"
	if [ "$SAVE" = 1 ]; then
		local as bs1 bs2
		as=$(med "${sa[@]}") bs1=$(med "${sb1[@]}") bs2=$(med "${sb2[@]}")
		row "  the whole job, the save that ends it included ((a): tar.gz packed again and uploaded; (b): unmount, strata commit):"
		row "  (a) $as s ($(span "${sa[@]}"))  (b1) $bs1 s ($(span "${sb1[@]}"))  (b2) $bs2 s ($(span "${sb2[@]}"))  (c) $cc s"
		row "  (a)/(b2) = $(calc "$as / $bs2")x   (b2)/(c) = $(calc "$bs2 / $cc")x   (a)/(c) = $(calc "$as / $cc")x"
	fi
	row "  last (b2) fetched: $(jq -c '{bytes: .totals.bytes_fetched, fetches: .totals.fetches}' "$W/last-stats.json")"
	row "  last (b2) profile: $pf"
	if [ "$c" = app ]; then
		row "  targets: (a)/(b2) >= $([ "$label" = loopback ] && echo 1.3 || echo 2)x, (b2)/(c) <= 1.15x"
	else
		row "  target: (a)/(b2) >= 5x"
	fi
}

# ---- commit sizes ----
# uploaded_since LINE [LIST]: bytes of blobs and manifests PUT since registry log line LINE;
# LIST (optional) gets one line per PUT: bytes, blob|manifest, what
uploaded_since() {
	local d n total=0 list=${2:-/dev/null}
	registry_log_settle 2>/dev/null || sleep 0.5
	: >"$list"
	while read -r d; do
		n=$(curl -fsS -I "$REGISTRY_URL/v2/${d%%@*}/blobs/${d#*@}" | sed -nE 's/^[Cc]ontent-[Ll]ength: *([0-9]+).*/\1/p')
		total=$((total + ${n:-0}))
		echo "${n:-0} blob $d" >>"$list"
	done < <(tail -n "+$(($1 + 1))" "$REGISTRY_LOG" | grep '^{' | jq -r 'select(.["http.request.method"] == "PUT") | .["http.request.uri"]' |
		sed -nE 's#^/v2/(.*)/blobs/uploads/.*digest=sha256%3A([0-9a-f]{64}).*#\1@sha256:\2#p')
	while read -r d; do
		n=$(curl -fsS -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
			-H 'Accept: application/vnd.oci.image.index.v1+json' "$REGISTRY_URL$d" |
			sed -nE 's/^[Cc]ontent-[Ll]ength: *([0-9]+).*/\1/p')
		total=$((total + ${n:-0}))
		echo "${n:-0} manifest $d" >>"$list"
	done < <(tail -n "+$(($1 + 1))" "$REGISTRY_LOG" | grep '^{' | jq -r 'select(.["http.request.method"] == "PUT") | .["http.request.uri"]' | grep '/manifests/' || true)
	echo "$total"
}
# changed_bytes UPPER LOWER: bytes of the upper dir's files that are new or differ from the lower's
changed_bytes() {
	"$PY" - "$1" "$2" <<'PY'
import filecmp, os, stat, sys
up, low = sys.argv[1], sys.argv[2]
total = copied = same = 0
for d, dirs, files in os.walk(up):
    for f in files:
        p = os.path.join(d, f)
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode):
            continue
        copied += 1
        q = os.path.join(low, os.path.relpath(p, up))
        try:
            lt = os.lstat(q)
            if stat.S_ISREG(lt.st_mode) and lt.st_size == st.st_size and \
               (lt.st_mode & 0o7777) == (st.st_mode & 0o7777) and filecmp.cmp(p, q, shallow=False):
                same += 1
                continue
        except OSError:
            pass
        total += st.st_size
print(total, copied, same)
PY
}
# commit_cycle NAME IMAGE:TAG BUILDFN: three builds, each committed on the last; rows per commit
commit_cycle() {
	local name=$1 ref=$2 build=$3 tag=${2##*:} repo=${2%:*} i line up ch
	for i in 2 3; do
		mount_ovl "$REGISTRY/$repo:$tag" cc
		fresh_app
		"$build" "$W/cc/merged"
		umount_ovl cc
		read -r ch nfiles nsame < <(changed_bytes "$W/cc/upper" "$W/cc/lower")
		line=$(wc -l <"$REGISTRY_LOG")
		"$STRATA" commit "$W/cc/upper" "$REGISTRY/$repo:c$i" --base "$W/cc/lower" --insecure -q --json \
			>"$OUT/commit-$name-$i.json" || die "commit $i of $name"
		up=$(uploaded_since "$line" "$OUT/puts-$name-$i.txt")
		# the same upper dir as before this change, every copy-up uploaded, into
		# a repository of its own (the base's blobs are mounted, not uploaded)
		line=$(wc -l <"$REGISTRY_LOG")
		"$STRATA" commit "$W/cc/upper" "$REGISTRY/$repo-keep:c$i" --base "$W/cc/lower" --insecure -q \
			--keep-unchanged >/dev/null || die "commit --keep-unchanged $i of $name"
		keep=$(uploaded_since "$line")
		umount_lower cc
		row "  $name commit $i: build changed $ch bytes ($nfiles files copied up, $nsame of them unchanged); uploaded $up bytes (layer $(jq .layer_size "$OUT/commit-$name-$i.json"), the rest config, manifest, index, profile) = $(calc "$up / ($ch > 0 ? $ch : 1)")x (target <= 1.2x); left out $(jq -r '"\(.unchanged_files) files, \(.unchanged_bytes) bytes"' "$OUT/commit-$name-$i.json"); with --keep-unchanged: $keep bytes"
		tag=c$i
	done
}

if [ "$PROXY_TOO" = 1 ] && { want app || want big; }; then
	proxy_start "wan ms=20-40 rate=100000000"
fi
if want app; then
	side_by_side app "$REGISTRY" loopback
	[ "$PROXY_TOO" = 1 ] && side_by_side app "$PROXY" delay-proxy
fi
if want big; then
	side_by_side big "$REGISTRY" loopback small
	[ "$PROXY_TOO" = 1 ] && side_by_side big "$PROXY" delay-proxy small
fi
if want bigapp; then
	side_by_side big "$REGISTRY" loopback app
fi
if want commit; then
	row ""
	row "bytes uploaded by strata commit vs bytes the build changed:"
	commit_cycle npm npm/app:v1 npm_ci
fi
if want ccache && command -v ccache >/dev/null && command -v gcc >/dev/null; then
	# a cache filled by compiling this project's sources once, then rebuilt from it
	ccache_build() {
		local f
		rm -rf "$W/ccobj"
		mkdir -p "$W/ccobj"
		for f in "$SRCDIR"/common/*.c "$SRCDIR"/index/*.c "$SRCDIR"/registry/*.c "$SRCDIR"/fs/*.c \
			"$SRCDIR"/tools/*.c; do
			CCACHE_DIR=$1 ccache gcc -std=c11 -O2 -D_GNU_SOURCE -I"$SRCDIR" -I"$BUILDDIR" -I/usr/include/fuse3 \
				-c "$f" -o "$W/ccobj/$(basename "$f").o" 2>/dev/null || true
		done
	}
	mkdir -p "$W/ccache0"
	ccache_build "$W/ccache0"
	"$STRATA" push "$W/ccache0" "$REGISTRY/cc/cache:v1" --insecure -q >/dev/null || die "push of the ccache dir"
	commit_cycle ccache cc/cache:v1 ccache_build
fi
say "done: $RES"
cat "$RES"
