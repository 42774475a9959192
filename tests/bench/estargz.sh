#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/estargz.sh [--full] [--runs N]
#
# Cold first byte of one file through an eStargz TOC against the same file
# through a stratafs index of the same content, in one run, on the image of
# gen.sh (quick: ~200 MiB, 20k entries; --full: ~1 GiB):
#
#   stratafs  bench:full, its indexes pinned by `strata index --push --tag`
#             (not timed), mounted by the pinning index's digest
#   eStargz   the same image converted by `ctr-remote image convert
#             --estargz --oci` (Debian's stargz-snapshotter, default 4 MiB
#             chunks, over a private containerd: not timed), mounted by tag:
#             its TOCs are pinned by the manifest, no stratafs index exists
#
# Each run starts stratafs on an empty cache and polls the file until its
# first byte reads (tests/bench/bench.py ttfb). Files: the 1 MiB + 4097 B
# target of the data-b layer, and a small file of the 20k-entry layer (a
# big TOC: the eStargz side reads it whole before the first byte).
# Printed: medians, the ratio stratafs / eStargz (> 1: eStargz is faster)
# and the layer bytes the registry served. Needs BUILDDIR (default
# ./build), containerd and stargz-snapshotter; run as root.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
MODE=quick
RUNS=3
while [ $# -gt 0 ]; do
	case "$1" in
	--full) MODE=full ;;
	--runs) RUNS=$2; shift ;;
	*) echo "usage: $0 [--full] [--runs N]" >&2; exit 2 ;;
	esac
	shift
done
export SRCDIR BUILDDIR STRATA STRATAFS
for t in containerd ctr-remote skopeo "$STRATA" "$STRATAFS"; do
	command -v "$t" >/dev/null || { echo "estargz bench: $t is missing" >&2; exit 1; }
done
DATA="$BENCH_CACHE/v1-$MODE"
if [ ! -f "$DATA/meta.json" ]; then
	mkdir -p "$BENCH_CACHE"
	(
		flock 9
		[ -f "$DATA/meta.json" ] || bash "$HERE/gen.sh" "$MODE" "$DATA"
	) 9>"$BENCH_CACHE/.lock"
fi

. "$SRCDIR/tests/harness/lib.sh"
. "$SRCDIR/tests/integration/formats/estargz_lib.sh"
harness_init
registry_start plain
W="$HARNESS_DIR/w"
mkdir -p "$W"
MOUNTS=()
harness_on_exit 'for m in "${MOUNTS[@]}"; do fusermount3 -u -z "$m" 2>/dev/null; done; true'

skopeo copy --quiet --dest-tls-verify=false "oci:$DATA/layout:full" "docker://$REGISTRY/bench:full"
PINNED=$("$STRATA" index "$REGISTRY/bench:full" --push --tag full-pinned --insecure -q --json \
	--cache "$W/tokens" | jq -r .pinned)
t0=$(date +%s)
ctrd_start
ctr_remote images pull --snapshotter native --plain-http "$REGISTRY/bench:full" >/dev/null
ctr_remote images convert --estargz --oci "$REGISTRY/bench:full" "$REGISTRY/bench:esgz" >/dev/null
ctr_remote images push --plain-http "$REGISTRY/bench:esgz" >/dev/null
CONVERT=$(($(date +%s) - t0))

TARGET=opt/data-b/m-050-target.bin
SMALL_LAYER=$(jq -r '.layers[] | select(.role == "small") | .digest' "$DATA/meta.json")
SMALL=$(/usr/bin/python3 - "$DATA/layout/blobs/sha256/${SMALL_LAYER#sha256:}" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "r|gz") as t:
    for m in t:
        if m.isfile() and m.size > 0:
            print(m.name.lstrip("./"))
            break
PY
)
manifest_layers() { skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$1" | jq -r '.layers[].digest'; }
mapfile -t L_FULL < <(manifest_layers bench:full)
mapfile -t L_ESGZ < <(manifest_layers bench:esgz)
served() { local d n=0; for d in "$@"; do n=$((n + $(registry_bytes_served "$d"))); done; echo "$n"; }

# ttfb REF FILE RUN: seconds from start to FILE's first byte, fresh cache
ttfb() {
	local mnt="$W/mnt" cache="$W/cache-$3" out pid
	rm -rf "$cache"
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	out=$(/usr/bin/python3 "$HERE/bench.py" ttfb --file "$mnt/$2" --timeout 300 --log "$W/stratafs.log" -- \
		"$STRATAFS" "$1" "$mnt" -f -o "insecure,prefetch=none,cache=$cache,io_timeout=60")
	pid=${out#* }
	fusermount3 -u "$mnt"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -rf "$cache"
	[ "${out%% *}" != FAIL ] || { echo "estargz bench: no first byte of $2 through $1" >&2; exit 1; }
	echo "${out%% *}"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf 'eStargz benchmark (%s image, converted in %d s), %s, %d cores, %d runs each\n' \
	"$MODE" "$CONVERT" "$(date -u +%FT%TZ)" "$(nproc)" "$RUNS"
printf '%-46s %10s %10s %8s  %s\n' "cold first byte of" "stratafs" "eStargz" "ratio" "layer bytes served (last run)"
for f in "$TARGET" "$SMALL"; do
	a=() b=()
	for i in $(seq 1 "$RUNS"); do
		registry_log_mark
		a+=("$(ttfb "$PINNED" "$f" "a$i")")
		sa=$(served "${L_FULL[@]}")
		registry_log_mark
		b+=("$(ttfb "$REGISTRY/bench:esgz" "$f" "b$i")")
		sb=$(served "${L_ESGZ[@]}")
	done
	ma=$(median "${a[@]}")
	mb=$(median "${b[@]}")
	printf '%-46s %9.3fs %9.3fs %7.2fx  stratafs %s, eStargz %s\n' "${f:0:46}" "$ma" "$mb" \
		"$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')" "$sa" "$sb"
done
