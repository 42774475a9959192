#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/formats.sh [--full] [--runs N] [--only zchunked,estargz,soci]
#
# Cold first byte of one file through each lazy format other tools write
# against the same file through pinned stratafs indexes of the same
# content, side by side in one run, one registry, one table. The image is
# gen.sh's bench:full (quick: 4 gzip layers, ~200 MiB, 20k entries;
# --full: ~1 GiB); lib_formats.sh makes each format's copy of it (not
# timed): zstd:chunked (skopeo), eStargz (ctr-remote), SOCI v2 (zTOCs from
# soci_build.py over the same gzip layers, 4 MiB spans).
#
# Each measurement starts stratafs on an EMPTY cache (-o prefetch=none) and
# polls the file until its first byte reads (bench.py ttfb); `strata stats`
# must then show the expected index for every layer. Runs are interleaved
# (stratafs, then each format, per file, per run); medians of N. Files: the
# 1 MiB + 4097 B target of data-b, and the first file of the 20k-entry
# layer. Bytes: what the registry served for that mount (its access log),
# every blob (layers, TOCs, zTOCs, stratafs indexes, config), and in
# parentheses the layer blobs alone. Ratio: stratafs time / format time
# (> 1: the format is faster). The table also goes to
# $BUILDDIR/bench/formats.txt. Needs BUILDDIR (default ./build), skopeo,
# umoci, containerd and ctr-remote (eStargz); run as root (FUSE).
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib_data.sh"
bench_paths
bench_args "$@"
PY=/usr/bin/python3
TARGET=opt/data-b/m-050-target.bin
FORMATS=${ONLY:-zchunked estargz soci}
need=(skopeo umoci jq fusermount3 "$STRATA" "$STRATAFS")
case " $FORMATS " in *" estargz "*) need+=(containerd ctr-remote) ;; esac
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || { echo "${0##*/}: $t is missing" >&2; exit 1; }
done
. "$SRCDIR/tests/harness/lib.sh"
. "$HERE/lib_formats.sh"
for f in $FORMATS; do
	case " $FMT_ALL " in *" $f "*) ;; *) echo "${0##*/}: no format '$f' ($FMT_ALL)" >&2; exit 2 ;; esac
done
DATA=$(bench_data "$MODE")
SRC=$DATA/layout
harness_init
W=$HARNESS_DIR/w
mkdir -p "$W"
MOUNTS=()
harness_on_exit 'for m in "${MOUNTS[@]}"; do fusermount3 -u -z "$m" 2>/dev/null; done; true'
registry_start plain

SMALL_LAYER=$(jq -r '.layers[] | select(.role == "small") | .digest' "$DATA/meta.json")
SMALL=$("$PY" - "$SRC/blobs/sha256/${SMALL_LAYER#sha256:}" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "r|gz") as t:
    for m in t:
        if m.isfile() and m.size > 0:
            print(m.name.lstrip("./"))
            break
PY
)
[ -n "$SMALL" ] || harness_fail "no regular file in the small-files layer"

fmt_stratafs
FMT_REF["stratafs"]=$PINNED
FMT_LABEL["stratafs"]=stratafs
for f in $FORMATS; do "fmt_prep_$f"; done

# blob bytes the registry served since the last registry_log_mark: every
# blob, and the blobs named (layers)
blobs_served() {
	registry_responses | jq -rs --arg layers "$1" '
		def blob: .["http.request.method"] == "GET" and (.["http.request.uri"] | test("/blobs/sha256:"));
		def written: .["http.response.written"] // 0;
		($layers | split(" ")) as $l
		| [map(select(blob)) | .[] | written] as $all
		| [map(select(blob and ((.["http.request.uri"] | sub(".*/blobs/"; "")) as $d | $l | index($d))))
		   | .[] | written] as $lay
		| "\($all | add // 0) \($lay | add // 0)"'
}

# measure NAME FILE I: one cold first byte; appends "seconds all layers"
# to $W/NAME.FILENO (the stratafs daemon on a fresh cache, unmounted after)
measure() {
	local name=$1 mnt=$W/mnt cache=$W/cache out pid got
	rm -rf "$cache"
	mkdir -p "$mnt" "$cache"
	MOUNTS+=("$mnt")
	registry_log_mark
	out=$("$PY" "$HERE/bench.py" ttfb --file "$mnt/$2" --timeout 120 --log "$W/stratafs.log" -- \
		"$STRATAFS" "${FMT_REF[$name]}" "$mnt" -f \
		-o "insecure,prefetch=none,cache=$cache,io_timeout=60") || true
	pid=${out#* }
	if [ "${out%% *}" = FAIL ] || [ -z "$out" ]; then
		tail -20 "$W/stratafs.log" >&2
		harness_fail "$name: no first byte of $2 through ${FMT_REF[$name]}"
	fi
	got=$(timeout 30 "$STRATA" stats --json "$mnt" | jq -r '[.layers[].index_format] | unique | join(",")')
	timeout 30 fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
	for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
	if kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
	[ "$got" = "${FMT_LABEL[$name]}" ] || harness_fail "$name: the mount read its layers through '$got'"
	echo "${out%% *} $(blobs_served "${FMT_LAYERS[$name]}")" >>"$W/$name.$3"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
FILES=("$TARGET" "$SMALL")
for run in $(seq 1 "$RUNS"); do
	for fi in 0 1; do
		for name in stratafs $FORMATS; do
			measure "$name" "${FILES[$fi]}" "$fi"
		done
	done
	echo "run $run of $RUNS done" >&2
done

mkdir -p "$BUILDDIR/bench"
{
	printf 'cold first byte, %s image, medians of %d runs, %s, %d cores, load average %s\n' \
		"$MODE" "$RUNS" "$(date -u +%FT%TZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'prepared (not timed):'
	for name in $FORMATS; do printf ' %s %d s' "$name" "${FMT_PREP[$name]}"; done
	printf '\nfiles: target = %s, small = %s\n' "$TARGET" "$SMALL"
	printf '%-13s %-6s %9s %9s %7s  %-24s %s\n' format file format stratafs ratio \
		"bytes format (layers)" "bytes stratafs (layers)"
	for fi in 0 1; do
		fl=target
		[ "$fi" = 0 ] || fl=small
		sm=$(cut -d' ' -f1 "$W/stratafs.$fi" | median)
		read -r _ sa sl < <(tail -1 "$W/stratafs.$fi")
		for name in $FORMATS; do
			m=$(cut -d' ' -f1 "$W/$name.$fi" | median)
			read -r _ a l < <(tail -1 "$W/$name.$fi")
			printf '%-13s %-6s %8.3fs %8.3fs %6.2fx  %-24s %s\n' "${FMT_LABEL[$name]}" "$fl" "$m" "$sm" \
				"$(awk -v a="$sm" -v b="$m" 'BEGIN { printf "%.2f", a / b }')" \
				"$(mb "$a") ($(mb "$l"))" "$(mb "$sa") ($(mb "$sl"))"
		done
	done
	echo "runs (seconds to the first byte):"
	for name in stratafs $FORMATS; do
		for fi in 0 1; do
			printf '  %-9s %s: %s\n' "$name" "${FILES[$fi]##*/}" "$(cut -d' ' -f1 "$W/$name.$fi" | paste -sd' ')"
		done
	done
} | tee "$BUILDDIR/bench/formats.txt"
