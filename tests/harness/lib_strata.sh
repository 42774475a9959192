# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Running the strata CLI ($STRATA, set by meson's integ_env) against the
# current registry, and what a test expects of it.
#
#   strata_run CMD ARGS...   "$STRATA" CMD ARGS "${STRATA_REG_OPTS[@]}", the
#                            password on stdin when the variant has one
#                            (--password-stdin), else stdin is /dev/null.
#                            stderr is also kept in $STRATA_ERR.
#   strata_crashed RC        true if RC is a signal (>= 128) or $STRATA_ERR
#                            holds a sanitizer report
#   expect_inspect REPO:TAG [PLATFORM]   the `strata inspect --json` subset
#                            that skopeo/curl say is right (see below)
#   inspect_subset           filter: strata's JSON reduced to that subset

STRATA=${STRATA:-${BUILDDIR:-$SRCDIR/build}/tools/strata}

strata_run() {
	local cmd=$1 rc=0 pw=""
	shift
	case " ${STRATA_REG_OPTS[*]} " in
	*" --password-stdin "*) pw=$REGISTRY_PASS ;;
	esac
	if [ -n "$pw" ]; then
		"$STRATA" "$cmd" "$@" "${STRATA_REG_OPTS[@]}" <<<"$pw" 2>"$STRATA_ERR" || rc=$?
	else
		"$STRATA" "$cmd" "$@" "${STRATA_REG_OPTS[@]}" </dev/null 2>"$STRATA_ERR" || rc=$?
	fi
	cat "$STRATA_ERR" >&2
	return "$rc"
}

strata_crashed() {
	[ "$1" -ge 128 ] && return 0
	grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' \
		"${STRATA_ERR:-/dev/null}" 2>/dev/null
}

_media_compression='
def compression_of(mt):
	if (mt | test("gzip$")) then "gzip"
	elif (mt | test("zstd$")) then "zstd"
	elif (mt | test("tar$")) then "none"
	else "unknown" end;'

# manifest_content_type REPO REF: Content-Type the registry stores for it
manifest_content_type() {
	registry_curl "/v2/$1/manifests/$2" -I \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' |
		sed -nE 's/^[Cc]ontent-[Tt]ype: *([^;\r]*).*$/\1/p'
}

# expect_inspect REPO:TAG [OS/ARCH[/VARIANT]]: the expected subset, compact,
# keys sorted. For an index, PLATFORM picks the manifest (default linux/amd64).
# (Manifest bytes go through files: $(...) would eat a trailing newline.)
expect_inspect() {
	local ref=$1 plat=${2:-linux/amd64} repo=${1%:*} tag=${1##*:} mt idx="null" d
	local t="$HARNESS_DIR/expect.$$"
	skopeo_raw "$ref" >"$t.raw" || return 1
	mt=$(manifest_content_type "$repo" "$tag")
	case "$mt" in
	*index* | *list*)
		idx=$(jq -c --arg mt "$mt" --arg d "sha256:$(sha256sum <"$t.raw" | cut -d' ' -f1)" \
			--argjson size "$(stat -c %s "$t.raw")" '
			{digest: $d, mediaType: $mt, size: $size,
			 manifests: [.manifests[] | {digest, mediaType, size, platform}]}' "$t.raw")
		d=$(jq -r --arg p "$plat" '.manifests[] | select(
			([.platform.os, .platform.architecture] + (if .platform.variant then [.platform.variant] else [] end)
			| join("/")) == $p) | .digest' <<<"$idx")
		[ -n "$d" ] || return 1
		skopeo_raw "$repo@$d" >"$t.raw" || return 1
		mt=$(manifest_content_type "$repo" "$d")
		skopeo_raw "$repo@$d" --config >"$t.cfg" || return 1
		;;
	*)
		skopeo_raw "$ref" --config >"$t.cfg" || return 1
		;;
	esac
	jq -S -c --arg mt "$mt" --argjson idx "$idx" --slurpfile cfg "$t.cfg" \
		--arg d "sha256:$(sha256sum <"$t.raw" | cut -d' ' -f1)" \
		--argjson size "$(stat -c %s "$t.raw")" "$_media_compression"'
		{digest: $d, mediaType: $mt, size: $size,
		 config: (.config | {digest, mediaType, size}),
		 layers: [.layers | to_entries[] | .value as $l | {digest: $l.digest, mediaType: $l.mediaType,
		          size: $l.size, compression: compression_of($l.mediaType),
		          diffID: $cfg[0].rootfs.diff_ids[.key]}]}
		+ (if $idx then {index: $idx} else {} end)' "$t.raw"
	rm -f "$t.raw" "$t.cfg"
}

# inspect_subset: stdin = strata inspect --json; stdout = the subset above.
inspect_subset() {
	jq -S -c '
		{digest, mediaType, size,
		 config: (.config | {digest, mediaType, size}),
		 layers: [.layers[]? | {digest, mediaType, size,
		          compression: (if (.compression | IN("uncompressed", "tar", "none")) then "none" else .compression end),
		          diffID}]}
		+ (if .index then {index: (.index | {digest, mediaType, size,
		     manifests: [.manifests[] | {digest, mediaType, size,
		                 platform: (.platform | with_entries(select(.value != null and .value != "")))}]})}
		   else {} end)'
}
