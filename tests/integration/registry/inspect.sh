#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `strata inspect --json` agrees with skopeo (manifest and config bytes as
# stored) and curl (stored Content-Type) on digests, media types, sizes,
# compression, diff_ids and an index's platforms: every registry variant
# (plain, tls, basic, token) x every fixture.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

OUT=$HARNESS_DIR/inspect.json

# The variants share one storage, so what skopeo says is computed once.
declare -A WANT
want_for() { # REF [PLATFORM] -> sets $want
	local k="$1 ${2:-}"
	if [ -z "${WANT[$k]:-}" ]; then
		WANT[$k]=$(expect_inspect "$@")
	fi
	want=${WANT[$k]}
}

# check_inspect REF_PATH WANT [strata options...]
check_inspect() {
	local ref=$1 want=$2 got rc=0
	shift 2
	strata_run inspect "$REGISTRY/$ref" --json "$@" >"$OUT" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "strata inspect exited $rc"
		return 1
	fi
	got=$(inspect_subset <"$OUT") || {
		echo "not the --json shape:"
		head -c 2000 "$OUT"
		return 1
	}
	if [ "$got" != "$want" ]; then
		diff <(jq -S . <<<"$want") <(jq -S . <<<"$got") | sed 's/^/  /' | head -60
		echo "(< skopeo, > strata)"
		return 1
	fi
	jq -e '(.reference | type == "string" and length > 0) and
		([.layers[] | .stratafsIndex | (. == null or . == false or type == "object" or type == "string")] | all)' \
		"$OUT" >/dev/null || {
		echo "reference missing or a stratafsIndex claimed for a layer nobody indexed"
		return 1
	}
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
	for f in $FIXTURES; do
		if [ "$f" = index ] || [ "$f" = list ]; then
			for p in linux/amd64 linux/arm64/v8; do
				want_for "it/$f:latest" "$p"
				tap_ok "$v: inspect '$f' --platform $p agrees with skopeo" \
					check_inspect "it/$f:latest" "$want" --platform "$p"
			done
			continue
		fi
		want_for "it/$f:latest"
		tap_ok "$v: inspect '$f' agrees with skopeo" check_inspect "it/$f:latest" "$want"
	done
	# by digest: the same answer as by tag
	d=$(skopeo_raw it/multi:latest | sha256sum | cut -d' ' -f1)
	want_for it/multi:latest
	tap_ok "$v: inspect it/multi@sha256:… agrees too" check_inspect "it/multi@sha256:$d" "$want"
	if [ "$v" = plain ]; then
		# --platform picks; the host default on this amd64 machine is amd64
		if [ "$(uname -m)" = x86_64 ]; then
			want_for it/index:latest linux/amd64
			tap_ok "plain: inspect index without --platform picks the host's (linux/amd64)" \
				check_inspect it/index:latest "$want"
		fi
		want_for it/index:latest linux/arm64/v8
		tap_ok "plain: --platform linux/arm64 (no variant) finds linux/arm64/v8" \
			check_inspect it/index:latest "$want" --platform linux/arm64
		rc=0
		strata_run inspect "$REGISTRY/it/index:latest" --json --platform linux/s390x >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 1 "plain: --platform linux/s390x (not in the index) fails with exit 1"
		tap_ok "plain: ...saying which platform" grep -qi 's390x' "$STRATA_ERR"
		rc=0
		strata_run inspect "$REGISTRY/it/single:latest" >"$OUT" 2>/dev/null || rc=$?
		tap_ok "plain: inspect without --json exits 0 and names the manifest digest" \
			bash -c "[ $rc = 0 ] && grep -q 'sha256:$(skopeo_raw it/single:latest | sha256sum | cut -c1-12)' '$OUT'"
		rc=0
		strata_run inspect "$REGISTRY/it/nosuch:latest" --json >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 1 "plain: a repository that does not exist: exit 1"
		rc=0
		strata_run inspect "$REGISTRY/it/single:nosuchtag" --json >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 1 "plain: a tag that does not exist: exit 1"
		tap_ok "plain: ...and the message names the tag" grep -q nosuchtag "$STRATA_ERR"
		rc=0
		"$STRATA" inspect </dev/null >/dev/null 2>&1 || rc=$?
		tap_is "$rc" 2 "inspect without a reference is a usage error (exit 2)"
	fi
	registry_stop
done

tap_done
