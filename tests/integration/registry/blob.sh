#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `strata blob REF DIGEST` returns the blob exactly as skopeo copies it, and
# `--range A-B` the same bytes dd cuts from it, fetching only about that
# many bytes: every registry variant x every fixture.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

OUT=$HARNESS_DIR/blob.out
RANDOM=4242 # the same "random" offsets every run

# check_full REF_PATH DIGEST FILE [stdout]: -o FILE (and stdout) give FILE's bytes
check_full() {
	local rc=0
	rm -f "$OUT"
	strata_run blob "$REGISTRY/$1" "$2" -o "$OUT" || rc=$?
	[ "$rc" = 0 ] || {
		echo "strata blob -o exited $rc"
		return 1
	}
	cmp "$OUT" "$3" || return 1
	[ "${4:-}" = stdout ] || return 0
	rc=0
	strata_run blob "$REGISTRY/$1" "$2" >"$OUT" || rc=$?
	[ "$rc" = 0 ] || {
		echo "strata blob (stdout) exited $rc"
		return 1
	}
	cmp "$OUT" "$3"
}


# check_ranges REF_PATH DIGEST FILE COUNT: COUNT random ranges plus the edges
check_ranges() {
	local ref=$1 dg=$2 file=$3 n=$4 size a b i len bad=0 rc
	size=$(stat -c %s "$file")
	local ranges=("0-0" "$((size - 1))-$((size - 1))" "0-$((size - 1))")
	for ((i = 0; i < n; i++)); do
		a=$(((RANDOM * 32768 + RANDOM) % size))
		case $((i % 3)) in
		0) len=$((1 + RANDOM % 64)) ;;                          # tiny
		1) len=$((1 + (RANDOM * 32768 + RANDOM) % 70000)) ;;    # across 64 KiB
		*) len=$((1 + (RANDOM * 32768 + RANDOM) % size)) ;;     # anything
		esac
		b=$((a + len - 1))
		[ "$b" -lt "$size" ] || b=$((size - 1))
		ranges+=("$a-$b")
	done
	for r in "${ranges[@]}"; do
		a=${r%-*}
		b=${r#*-}
		rc=0
		strata_run blob "$REGISTRY/$ref" "$dg" --range "$r" >"$OUT" 2>>"$HARNESS_DIR/ranges.err" || rc=$?
		if [ "$rc" != 0 ]; then
			echo "range $r: exit $rc"
			bad=$((bad + 1))
		elif ! cmp -s "$OUT" <(dd if="$file" iflag=skip_bytes,count_bytes skip="$a" count="$((b - a + 1))" bs=65536 status=none); then
			echo "range $r: wrong bytes ($(stat -c %s "$OUT") bytes, want $((b - a + 1)))"
			bad=$((bad + 1))
		fi
		[ "$bad" -lt 5 ] || break
	done
	[ "$bad" = 0 ] || tail -5 "$HARNESS_DIR/ranges.err"
	[ "$bad" = 0 ]
}

for v in plain tls basic token; do
	registry_start "$v"
	if [ "$v" = plain ]; then
		for f in $FIXTURES; do
			fixture_push "$f" "it/$f:latest"
		done
		# the other variants serve the same storage (pushing through each
		# variant is harness_selftest.sh's job)
		REGISTRY_SHARED_STORAGE=$REGISTRY_STORAGE
	fi
	seen=""
	for f in $FIXTURES; do
		d="$HARNESS_DIR/pulled-$f" # skopeo's copy, made through the first variant
		if [ -d "$d" ]; then
			:
		elif [ "$f" = index ] || [ "$f" = list ]; then
			skopeo_pull "it/$f:latest" "$d" --override-arch amd64 --override-os linux
		else
			skopeo_pull "it/$f:latest" "$d"
		fi
		blobs=$(ls "$d" | grep -E '^[0-9a-f]{64}$')
		nb=0
		bad=""
		big=$(ls -S "$d" | grep -E '^[0-9a-f]{64}$' | head -n 1 || true)
		for h in $blobs; do
			# a blob another fixture already brought (same registry) once
			case " $seen " in *" $h "*) continue ;; esac
			seen="$seen $h"
			how=""
			[ "$h" = "$big" ] && how=stdout
			if ! check_full "it/$f:latest" "sha256:$h" "$d/$h" $how >"$HARNESS_DIR/full.log" 2>&1; then
				bad="$bad sha256:$h($(tail -1 "$HARNESS_DIR/full.log"))"
			fi
			nb=$((nb + 1))
		done
		if [ -z "$bad" ]; then
			tap_pass "$v: '$f': its $nb new blobs (config + layers) equal skopeo's copy (-o; the biggest also on stdout)"
		else
			tap_fail "$v: '$f': its $nb new blobs (config + layers) equal skopeo's copy (-o; the biggest also on stdout)" "bad:$bad"
		fi
		# ranges on the biggest blob: ~50 for the big multi layer, a couple
		# elsewhere (plus the 3 edge ranges)
		n=2
		[ "$f" = multi ] && n=50
		tap_ok "$v: '$f': $((n + 3)) ranges of its $(stat -c %s "$d/$big")-byte blob equal dd's cut" \
			check_ranges "it/$f:latest" "sha256:$big" "$d/$big" "$n"
	done

	if [ "$v" = plain ]; then
		d="$HARNESS_DIR/pulled-multi"
		big=$(ls -S "$d" | grep -E '^[0-9a-f]{64}$' | head -n 1 || true)
		size=$(stat -c %s "$d/$big")
		registry_log_mark
		rc=0
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:$big" --range 500000-500999 >"$OUT" || rc=$?
		served=$(registry_bytes_served "sha256:$big")
		tap_ok "plain: a 1000-byte range fetches < 64 KiB of the $size-byte blob (got $served)" \
			bash -c "[ $rc = 0 ] && [ $served -ge 1000 ] && [ $served -lt 65536 ]"
		registry_log_mark
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:$big" -o "$OUT" || true
		served=$(registry_bytes_served "sha256:$big")
		tap_ok "plain: a whole blob is fetched once ($served bytes served for $size)" \
			bash -c "[ $served -ge $size ] && [ $served -le $((size + 65536)) ]"

		rc=0
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:$big" --range "$size-$((size + 10))" >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 1 "plain: a range starting past the end fails (exit 1)"
		rc=0
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:$big" --range 10-5 >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 2 "plain: --range 10-5 is a usage error (exit 2)"
		rc=0
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:$(printf '%064d' 0)" >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 1 "plain: a digest the registry does not have: exit 1"
		rc=0
		strata_run blob "$REGISTRY/it/multi:latest" "sha256:xyz" >/dev/null 2>&1 || rc=$?
		tap_ok "plain: a malformed digest is refused (exit 1 or 2, got $rc)" \
			bash -c "[ $rc = 1 ] || [ $rc = 2 ]"
	fi
	registry_stop
done

tap_done
