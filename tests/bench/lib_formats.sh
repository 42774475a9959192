#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The images of tests/bench/formats.sh, all of the same content (gen.sh's
# bench:full), in the run's registry. Sourced after tests/harness/lib.sh
# with a registry started, SRC (the generated OCI layout), W (work dir),
# STRATA set; none of this is timed.
#
#   fmt_stratafs         bench/gz:v1 as gen.sh made it (umoci's gzip layers),
#                        its stratafs indexes pushed and pinned (`strata index
#                        --push --tag`); sets PINNED (the pinning digest ref)
#   fmt_prep_zchunked    the layers recompressed to zstd:chunked by skopeo
#   fmt_prep_estargz     converted by ctr-remote (private containerd)
#   fmt_prep_soci        the same gzip layers, SOCI v2 zTOCs built by
#                        soci_build.py (no SOCI writer exists here)
# Each fmt_prep_X sets FMT_REF[X] (what stratafs mounts), FMT_LABEL[X] (the
# index_format `strata stats` must show for every layer), FMT_LAYERS[X]
# (its layer digests) and FMT_PREP[X] (seconds it took).
. "$SRCDIR/tests/integration/formats/zchunked_lib.sh"
. "$SRCDIR/tests/integration/formats/estargz_lib.sh"
. "$SRCDIR/tests/integration/formats/soci_lib.sh"
declare -A FMT_REF FMT_LABEL FMT_LAYERS FMT_PREP
FMT_ALL="zchunked estargz soci"
# soci-snapshotter's default span size (`soci create --span-size`)
SOCI_BENCH_SPAN=$((4 << 20))

# _fmt_layers REPO:TAG: the layer digests of its image manifest (through an
# image index: its first manifest that is not an artifact, e.g. SOCI v2's)
_fmt_layers() {
	local raw
	raw=$(skopeo_raw "$1") || harness_fail "cannot read the manifest of $1"
	if jq -e 'has("manifests")' >/dev/null <<<"$raw"; then
		raw=$(skopeo_raw "${1%:*}@$(jq -r '[.manifests[] | select(has("artifactType") | not)][0].digest' \
			<<<"$raw")") || harness_fail "cannot read the image manifest of $1"
	fi
	jq -r '[.layers[].digest] | join(" ")' <<<"$raw"
}

# _fmt_set NAME REPO:TAG LABEL T0: record a prepared image (T0: its start, s)
_fmt_set() {
	FMT_REF[$1]=$REGISTRY/$2
	FMT_LABEL[$1]=$3
	FMT_LAYERS[$1]=$(_fmt_layers "$2")
	FMT_PREP[$1]=$(($(date +%s) - $4))
}

fmt_stratafs() {
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$SRC:full" "docker://$REGISTRY/bench/gz:v1" ||
		harness_fail "skopeo cannot push bench:full"
	PINNED=$(timeout 600 "$STRATA" index "$REGISTRY/bench/gz:v1" --push --tag pinned --insecure -q \
		--json --cache "$W/c-index" | jq -r .pinned)
	[ -n "$PINNED" ] && [ "$PINNED" != null ] || harness_fail "strata index --push printed no pinned ref"
	FMT_LAYERS["stratafs"]=$(_fmt_layers bench/gz:v1)
}

# zstd:chunked: each gzip layer as a plain tar that ends after its
# end-of-archive blocks (umoci writes neither them nor the last padding;
# containers/storage 1.43 needs them), recompressed by skopeo 1.9.3
fmt_prep_zchunked() {
	local t0 l=$W/zc-layout d t s
	t0=$(date +%s)
	umoci init --layout "$l" >/dev/null
	umoci new --image "$l:zc"
	for d in ${FMT_LAYERS[stratafs]}; do
		t=$(mktemp "$l/layer.XXXXXX")
		gzip -dc "$SRC/blobs/sha256/${d#sha256:}" >"$t"
		s=$(stat -c %s "$t")
		head -c $(((512 - s % 512) % 512 + 1024)) /dev/zero >>"$t"
		_zc_add_tar "$l" "$t"
	done
	timeout 900 skopeo copy --quiet --dest-compress --dest-compress-format zstd:chunked \
		"${SKOPEO_DEST_OPTS[@]}" "oci:$l:zc" "docker://$REGISTRY/bench/zc:v1" ||
		harness_fail "skopeo cannot push bench:full as zstd:chunked"
	rm -rf "$l"
	_fmt_set zchunked bench/zc:v1 zstd:chunked "$t0"
}

# eStargz: ctr-remote's default 4 MiB chunks
fmt_prep_estargz() {
	local t0 src=$REGISTRY/bench/gz:v1 dst=$REGISTRY/bench/esgz:v1
	t0=$(date +%s)
	ctrd_start
	_esgz_ctr_reg_opts
	timeout 300 ctr-remote --address "$CTRD_ADDR" images pull --snapshotter native "${CTR_REG_OPTS[@]}" \
		"$src" >/dev/null || harness_fail "ctr-remote cannot pull $src"
	timeout 900 ctr-remote --address "$CTRD_ADDR" images convert --estargz --oci "$src" "$dst" \
		>/dev/null || harness_fail "ctr-remote cannot convert $src to eStargz"
	timeout 300 ctr-remote --address "$CTRD_ADDR" images push "${CTR_REG_OPTS[@]}" "$dst" \
		>/dev/null || harness_fail "ctr-remote cannot push $dst"
	_fmt_set estargz bench/esgz:v1 eStargz "$t0"
}

# SOCI v2: the gzip layers as they are (a repository of their own, so the
# pinned stratafs indexes are not in the way), zTOCs with SOCI's default
# span, the SOCI index manifest and the image index that pins it
fmt_prep_soci() {
	local t0
	t0=$(date +%s)
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$SRC:full" "docker://$REGISTRY/bench/soci:img" ||
		harness_fail "skopeo cannot push bench:full for SOCI"
	soci_ztocs bench/soci img "$SOCI_BENCH_SPAN"
	soci_push_v2 bench/soci v2 >/dev/null || harness_fail "cannot push the SOCI v2 index"
	rm -f "$SOCI_DIR"/layer*.gz
	_fmt_set soci bench/soci:v2 "SOCI v2" "$t0"
}
