#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SOCI fixtures in the test registry; sourced after mount_lib.sh, not a
# test. No SOCI writer exists here: soci_build.py writes the zTOCs (true
# zran checkpoints of the layers as the registry serves them) and the
# manifests, from the published formats (docs/formats.md, "SOCI").
#
#   soci_image REPO    the fixture `multi` with its layers turned into plain
#                      tars, then pushed by `skopeo copy` (which gzips each
#                      layer on the way: the gzip streams are skopeo's) as
#                      REPO:img, and soci_ztocs REPO img.
#   soci_ztocs REPO TAG [SPAN]
#                      zTOCs of the gzip layers of REPO:TAG as the registry
#                      serves them (SPAN: bytes per span, default 64 KiB;
#                      SOCI's own default is 4 MiB). Sets SOCI_MANIFEST (file),
#                      SOCI_MT, SOCI_MDIGEST, SOCI_LAYERS (digests, bottom
#                      first), SOCI_SPAN, SOCI_DIR (work dir) and SOCI_ZTOC_<i>
#                      files (zTOC of layer i).
#   soci_push_v1 REPO TAG [ZTOC_OVERRIDE...]
#                      a SOCI v1 index manifest (subject: the image manifest),
#                      listed under the referrers fallback tag; the image
#                      stays REPO:TAG. Prints the SOCI index digest.
#   soci_push_v2 REPO TAG [ZTOC_OVERRIDE...]
#                      SOCI v2: the image manifest annotated with its SOCI
#                      index digest, and an image index of both under TAG.
#                      Prints the annotated manifest's digest.
# ZTOC_OVERRIDE is I=FILE: layer I's zTOC is FILE instead (forgeries), or
# I=-: layer I has none (SOCI skips small layers).
SOCI_BUILD="/usr/bin/python3 $SRCDIR/tests/integration/formats/soci_build.py"
SOCI_MT_LAYER_GZ=application/vnd.oci.image.layer.v1.tar+gzip

soci_image() {
	local repo=$1 plain
	SOCI_DIR=$HARNESS_DIR/soci
	mkdir -p "$SOCI_DIR"
	plain=$SOCI_DIR/plain-layout
	_fx_recompress "$(fixture_build multi)" multi "$plain" plain none
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$plain:plain" "docker://$REGISTRY/$repo:img" ||
		harness_fail "skopeo cannot push the SOCI base image"
	soci_ztocs "$repo" img
}

soci_ztocs() {
	local repo=$1 i d n
	SOCI_SPAN=${3:-65536}
	SOCI_DIR=$HARNESS_DIR/soci
	mkdir -p "$SOCI_DIR"
	SOCI_MANIFEST=$SOCI_DIR/manifest.json
	skopeo_raw "$repo:$2" >"$SOCI_MANIFEST"
	SOCI_MT=$(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$SOCI_MANIFEST")
	SOCI_MDIGEST=sha256:$(sha256sum "$SOCI_MANIFEST" | cut -d' ' -f1)
	mapfile -t SOCI_LAYERS < <(jq -r '.layers[].digest' "$SOCI_MANIFEST")
	n=${#SOCI_LAYERS[@]}
	for ((i = 0; i < n; i++)); do
		d=${SOCI_LAYERS[$i]}
		[ "$(jq -r ".layers[$i].mediaType" "$SOCI_MANIFEST")" = "$SOCI_MT_LAYER_GZ" ] ||
			harness_fail "layer $i of $repo:$2 is not gzip"
		registry_curl "/v2/$repo/blobs/$d" -sSf -o "$SOCI_DIR/layer$i.gz" ||
			harness_fail "cannot fetch layer $d"
		$SOCI_BUILD ztoc "$SOCI_DIR/layer$i.gz" "$SOCI_DIR/layer$i.ztoc" --span "$SOCI_SPAN" \
			>"$SOCI_DIR/layer$i.ztoc.out" || harness_fail "soci_build.py failed on layer $i"
		printf -v "SOCI_ZTOC_$i" '%s' "$SOCI_DIR/layer$i.ztoc"
	done
	printf '{}' >"$SOCI_DIR/empty.json"
	registry_push_blob "$repo" "$SOCI_DIR/empty.json" >/dev/null || harness_fail "cannot push {}"
}

# _soci_index REPO VERSION OUT [--subject FILE MT] [I=FILE...]: write and push a SOCI index.
_soci_index() {
	local repo=$1 ver=$2 out=$3 args=() sub=() i f n o
	shift 3
	if [ "${1:-}" = --subject ]; then
		sub=(--subject "$2" "$3")
		shift 3
	fi
	n=${#SOCI_LAYERS[@]}
	for ((i = 0; i < n; i++)); do
		f=$SOCI_DIR/layer$i.ztoc
		for o in "$@"; do
			[ "${o%%=*}" = "$i" ] && f=${o#*=}
		done
		[ "$f" = - ] && continue
		registry_push_blob "$repo" "$f" >/dev/null || return 1
		args+=("${SOCI_LAYERS[$i]}" "$SOCI_MT_LAYER_GZ" "$f")
	done
	$SOCI_BUILD index "$ver" "$out" --span "$SOCI_SPAN" "${sub[@]}" "${args[@]}" | cut -d' ' -f1
}

soci_push_v1() {
	local repo=$1 tag=$2 sd
	shift 2
	sd=$(_soci_index "$repo" v1 "$SOCI_DIR/soci-v1.json" --subject "$SOCI_MANIFEST" "$SOCI_MT" "$@") || return 1
	registry_push_manifest "$repo" "$sd" "$SOCI_DIR/soci-v1.json" \
		application/vnd.oci.image.manifest.v1+json >/dev/null || return 1
	$SOCI_BUILD referrers "$SOCI_DIR/referrers.json" "$SOCI_DIR/soci-v1.json" >/dev/null
	registry_push_manifest "$repo" "sha256-${SOCI_MDIGEST#sha256:}" "$SOCI_DIR/referrers.json" \
		application/vnd.oci.image.index.v1+json >/dev/null || return 1
	registry_push_manifest "$repo" "$tag" "$SOCI_MANIFEST" "$SOCI_MT" >/dev/null || return 1
	echo "$sd"
}

# soci_push_v2 REPO TAG [--annotate DIGEST] [I=FILE...]: --annotate names
# another SOCI index than the one pushed (the image index still lists the real one).
soci_push_v2() {
	local repo=$1 tag=$2 sd ann md
	shift 2
	ann=
	if [ "${1:-}" = --annotate ]; then
		ann=$2
		shift 2
	fi
	sd=$(_soci_index "$repo" v2 "$SOCI_DIR/soci-v2-$tag.json" "$@") || return 1
	registry_push_manifest "$repo" "$sd" "$SOCI_DIR/soci-v2-$tag.json" \
		application/vnd.oci.image.manifest.v1+json >/dev/null || return 1
	md=$($SOCI_BUILD annotate "$SOCI_MANIFEST" "${ann:-$sd}" "$SOCI_DIR/m-v2-$tag.json" | cut -d' ' -f1)
	registry_push_manifest "$repo" "$md" "$SOCI_DIR/m-v2-$tag.json" "$SOCI_MT" >/dev/null || return 1
	$SOCI_BUILD imageindex "$SOCI_DIR/ii-$tag.json" "$SOCI_DIR/m-v2-$tag.json" \
		"$SOCI_DIR/soci-v2-$tag.json" "$(go_platform)" >/dev/null
	registry_push_manifest "$repo" "$tag" "$SOCI_DIR/ii-$tag.json" \
		application/vnd.oci.image.index.v1+json >/dev/null || return 1
	echo "$md"
}

# The host's platform as an image index says it (os/architecture).
go_platform() {
	case "$(uname -m)" in
	x86_64) echo linux/amd64 ;;
	aarch64) echo linux/arm64 ;;
	*) echo "linux/$(uname -m)" ;;
	esac
}
