# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Image fixtures, built with umoci, jq, gzip and the zstd CLI (never with
# stratafs code) into OCI layouts, pushed with skopeo.
#
#   fixture_build NAME       -> prints the OCI layout dir; the image in it is
#                               tagged NAME (so "oci:$dir:NAME")
#   fixture_push NAME REPO:TAG   push it to $REGISTRY with the variant's
#                               credentials (index: --all; v2s2: --format v2s2)
#   $FIXTURES                   every fixture name
#
# Fixtures (all small; the whole set builds in well under a second):
#   single        one gzip layer: etc/, bin/hello (0755), data/blob.bin
#                 (256 KiB random), data/text.txt
#   multi         5 gzip layers: base tree; whiteout of a file; whiteout of
#                 a dir; an opaque dir (umoci insert --opaque); a modified
#                 file. The base has hardlinks, symlinks (relative, absolute,
#                 dangling), user.* xattrs (text and binary), a 120-char
#                 name, a 200-char name, a path > 255 chars, 0600 and
#                 setuid files, an empty file and big/large.bin (1.5 MiB
#                 random, so its layer blob is > 1 MiB).
#   index         OCI image index: linux/amd64 + linux/arm64/v8 (the index
#                 blob is written with jq; umoci cannot make one)
#   list          index, pushed as a Docker manifest list of schema 2
#                 manifests (skopeo copy --all --format v2s2)
#   v2s2          multi, pushed as Docker v2 schema 2 (skopeo --format v2s2)
#   zstd          multi with every layer recompressed to tar+zstd (zstd CLI;
#                 digests and sizes fixed in the layout with jq)
#   uncompressed  single with its layer as a plain tar (pushed with curl:
#                 skopeo 1.9.3 gzips plain layers on the way to a registry)
#
# umoci 0.4.7 writes tars without the two end-of-archive blocks (and
# without the last member's padding), see docs/tar.md: so do these
# fixtures, as such layers exist in the wild.
#
# Layouts are cached for the whole test run in $FIXTURE_CACHE (default
# $BUILDDIR/harness-fixtures/<hash of this file>, else under /tmp), so the
# test scripts of one `meson test` build them once.

FIXTURES="single multi index list v2s2 zstd uncompressed"

_fx_cache_dir() {
	local key
	if [ -z "${FIXTURE_CACHE:-}" ]; then
		key=$(cat "$HARNESS_LIB_DIR/lib_fixtures.sh" | sha256sum | cut -c1-12)
		if [ -n "${BUILDDIR:-}" ] && [ -d "$BUILDDIR" ]; then
			FIXTURE_CACHE="$BUILDDIR/harness-fixtures/$key"
		else
			FIXTURE_CACHE="/tmp/stratafs-fixtures-$(id -u)/$key"
		fi
		if [ ! -d "$FIXTURE_CACHE" ] && [ -d "${FIXTURE_CACHE%/*}" ]; then
			# fixtures of an older lib_fixtures.sh: drop them (not fresh ones,
			# which a concurrent run of another checkout might be using)
			find "${FIXTURE_CACHE%/*}" -mindepth 1 -maxdepth 1 -type d -mmin +60 \
				-exec rm -rf {} + 2>/dev/null || true
		fi
	fi
	mkdir -p "$FIXTURE_CACHE"
}

# _fx_rand SEED SIZE: SIZE deterministic pseudo-random bytes on stdout.
_fx_rand() {
	local key
	key=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	head -c "$2" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000
}

_fx_text() { # LINES: compressible text
	seq 1 "$1" | sed 's/$/ the quick brown fox jumps over the lazy stratafs/'
}

# _fx_sha FILE: hex sha256
_fx_sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# _fx_manifest LAYOUT REF: hex digest of REF's manifest
_fx_manifest() {
	jq -r --arg r "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$1/index.json" | cut -d: -f2
}

# _fx_put_blob LAYOUT FILE: move FILE into the layout's blobs, print "sha256:<hex> <size>"
_fx_put_blob() {
	local hex size
	hex=$(_fx_sha "$2")
	size=$(stat -c %s "$2")
	mv -f "$2" "$1/blobs/sha256/$hex"
	printf 'sha256:%s %s\n' "$hex" "$size"
}

_fx_tree_single() { # DIR
	local d=$1
	mkdir -p "$d/etc" "$d/bin" "$d/data"
	echo stratafs-fixture >"$d/etc/hostname"
	printf 'NAME=stratafs-fixture\nID=fixture\n' >"$d/etc/os-release"
	printf '#!/bin/sh\necho hello from the fixture\n' >"$d/bin/hello"
	chmod 0755 "$d/bin/hello"
	_fx_rand single-blob 262144 >"$d/data/blob.bin"
	_fx_text 1500 >"$d/data/text.txt"
}

_fx_tree_multi_base() { # DIR
	local d=$1 n120 n200 deep
	mkdir -p "$d/keep" "$d/gonedir/sub" "$d/opq/old2" "$d/links" "$d/xattr" "$d/long" \
		"$d/perms" "$d/big"
	echo "a v1" >"$d/keep/a.txt"
	echo "b v1" >"$d/keep/b.txt"
	echo "to be deleted" >"$d/gone.txt"
	echo x >"$d/gonedir/x"
	echo y >"$d/gonedir/sub/y"
	echo old1 >"$d/opq/old1"
	echo deep >"$d/opq/old2/deep"
	echo "hardlink target" >"$d/links/target.txt"
	ln "$d/links/target.txt" "$d/links/hard.txt"
	ln "$d/links/target.txt" "$d/links/hard2.txt"
	ln -s target.txt "$d/links/sym"
	ln -s /keep/a.txt "$d/links/abs"
	ln -s does-not-exist "$d/links/dangling"
	echo "with xattrs" >"$d/xattr/file"
	setfattr -n user.stratafs.text -v hello "$d/xattr/file"
	setfattr -n user.stratafs.bin -v 0x00ff7f0a "$d/xattr/file"
	mkdir "$d/xattr/dir"
	setfattr -n user.stratafs.dir -v on-a-dir "$d/xattr/dir"
	n120=$(printf 'n%.0s' $(seq 1 120))
	n200=$(printf 'm%.0s' $(seq 1 200))
	echo "name of 120 chars" >"$d/long/$n120"
	echo "name of 200 chars" >"$d/long/$n200"
	deep="$d/long/$(printf 'd%.0s' $(seq 1 90))/$(printf 'e%.0s' $(seq 1 90))/$(printf 'f%.0s' $(seq 1 90))"
	mkdir -p "$deep"
	echo "path longer than 255" >"$deep/file-at-the-end-of-a-long-path.txt"
	echo secret >"$d/perms/secret"
	chmod 0600 "$d/perms/secret"
	echo suid >"$d/perms/suid"
	chmod 04755 "$d/perms/suid"
	: >"$d/perms/empty"
	_fx_rand multi-large 1572864 >"$d/big/large.bin"
}

_fx_build_single() { # LAYOUT
	local t=$1.tree
	_fx_tree_single "$t"
	umoci init --layout "$1"
	umoci new --image "$1:single"
	umoci insert --image "$1:single" "$t" /
	rm -rf "$t"
}

_fx_build_multi() { # LAYOUT
	local t=$1.tree
	_fx_tree_multi_base "$t/base"
	mkdir -p "$t/newopq"
	echo new1 >"$t/newopq/new1"
	echo "a v2" >"$t/a2.txt"
	umoci init --layout "$1"
	umoci new --image "$1:multi"
	umoci insert --image "$1:multi" "$t/base" /
	umoci insert --image "$1:multi" --whiteout /gone.txt
	umoci insert --image "$1:multi" --whiteout /gonedir
	umoci insert --image "$1:multi" --opaque "$t/newopq" /opq
	umoci insert --image "$1:multi" "$t/a2.txt" /keep/a.txt
	rm -rf "$t"
}

_fx_build_index() { # LAYOUT
	local l=$1 t=$1.tree arch m c idx
	umoci init --layout "$l"
	for arch in amd64 arm64; do
		mkdir -p "$t/$arch/etc"
		echo "$arch" >"$t/$arch/etc/arch"
		_fx_rand "index-$arch" 65536 >"$t/$arch/etc/payload.bin"
		umoci new --image "$l:$arch"
		umoci config --image "$l:$arch" --os linux --architecture "$arch"
		umoci insert --image "$l:$arch" "$t/$arch" /
	done
	rm -rf "$t"
	idx=$(mktemp "$l/idx.XXXXXX")
	jq -n --slurpfile ij "$l/index.json" '
		def desc(ref): $ij[0].manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == ref)
			| {mediaType, digest, size};
		{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		 manifests: [ (desc("amd64") + {platform: {architecture: "amd64", os: "linux"}}),
		              (desc("arm64") + {platform: {architecture: "arm64", os: "linux", variant: "v8"}}) ]}' \
		| jq -c . >"$idx"
	read -r c m < <(_fx_put_blob "$l" "$idx")
	jq --arg d "$c" --argjson s "$m" '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json",
		digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "index"}}]' \
		"$l/index.json" >"$l/index.json.new"
	mv "$l/index.json.new" "$l/index.json"
}

# _fx_recompress SRC_LAYOUT SRC_REF DST_LAYOUT DST_REF KIND (zstd|none)
_fx_recompress() {
	local src=$1 sref=$2 dst=$3 dref=$4 kind=$5 mhex mfile i n d hex tmp mt dd size
	cp -a "$src" "$dst"
	mhex=$(_fx_manifest "$dst" "$sref")
	mfile=$(mktemp "$dst/manifest.XXXXXX")
	cp "$dst/blobs/sha256/$mhex" "$mfile"
	n=$(jq '.layers | length' "$mfile")
	for ((i = 0; i < n; i++)); do
		d=$(jq -r ".layers[$i].digest" "$mfile")
		hex=${d#sha256:}
		tmp=$(mktemp "$dst/layer.XXXXXX")
		case "$kind" in
		zstd)
			gzip -dc "$dst/blobs/sha256/$hex" | zstd -q -3 -c >"$tmp"
			mt=application/vnd.oci.image.layer.v1.tar+zstd
			;;
		none)
			gzip -dc "$dst/blobs/sha256/$hex" >"$tmp"
			mt=application/vnd.oci.image.layer.v1.tar
			;;
		esac
		read -r dd size < <(_fx_put_blob "$dst" "$tmp")
		jq -c --argjson i "$i" --arg d "$dd" --argjson s "$size" --arg mt "$mt" \
			'.layers[$i].digest = $d | .layers[$i].size = $s | .layers[$i].mediaType = $mt' \
			"$mfile" >"$mfile.new"
		mv "$mfile.new" "$mfile"
	done
	read -r dd size < <(_fx_put_blob "$dst" "$mfile")
	jq --arg r "$sref" --arg nr "$dref" --arg d "$dd" --argjson s "$size" '
		.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == $r
			then .digest = $d | .size = $s | .annotations["org.opencontainers.image.ref.name"] = $nr
			else . end)' "$dst/index.json" >"$dst/index.json.new"
	mv "$dst/index.json.new" "$dst/index.json"
}

_fx_build_zstd() {
	local src
	src=$(fixture_build multi)
	_fx_recompress "$src" multi "$1" zstd zstd
}
_fx_build_uncompressed() {
	local src
	src=$(fixture_build single)
	_fx_recompress "$src" single "$1" uncompressed none
}
_fx_build_list() {
	local src
	src=$(fixture_build index)
	cp -a "$src" "$1"
}
_fx_build_v2s2() {
	local src
	src=$(fixture_build multi)
	cp -a "$src" "$1"
}

fixture_build() {
	local name=$1 cache out tmp
	_fx_cache_dir
	cache=$FIXTURE_CACHE
	out="$cache/$name"
	if [ -f "$out/.done" ]; then
		printf '%s\n' "$out"
		return 0
	fi
	declare -F "_fx_build_$name" >/dev/null || harness_fail "unknown fixture '$name'"
	tmp="$cache/.$name.$$"
	rm -rf "$tmp" "$tmp.tree"
	# A background subshell keeps `set -e` in force inside it (a subshell
	# tested with `if` or `||` would run with errexit off).
	(
		set -euo pipefail
		"_fx_build_$name" "$tmp"
	) >"$cache/$name.build.log" 2>&1 &
	if ! wait $!; then
		cat "$cache/$name.build.log" >&2
		harness_fail "cannot build fixture '$name'"
	fi
	touch "$tmp/.done"
	if ! mv -T "$tmp" "$out" 2>/dev/null; then
		rm -rf "$tmp" # built concurrently by another test: keep theirs
	fi
	printf '%s\n' "$out"
}

# fixture_ref NAME: the layout ref skopeo reads ("oci:DIR:TAG" without "oci:").
fixture_ref() {
	local name=$1
	case "$name" in
	v2s2) printf '%s:multi\n' "$(fixture_build v2s2)" ;;
	list) printf '%s:index\n' "$(fixture_build list)" ;;
	*) printf '%s:%s\n' "$(fixture_build "$name")" "$name" ;;
	esac
}

# oci_push_raw LAYOUT REF REPO:TAG: push an image manifest of an OCI layout
# with curl, byte for byte (skopeo compresses plain-tar layers on push).
oci_push_raw() {
	local l=$1 ref=$2 repo=${3%:*} tag=${3##*:} m mt d out
	m=$(_fx_manifest "$l" "$ref")
	[ -n "$m" ] || return 1
	for d in $(jq -r '.config.digest, .layers[].digest' "$l/blobs/sha256/$m"); do
		registry_push_blob "$repo" "$l/blobs/sha256/${d#sha256:}" >/dev/null || return 1
	done
	mt=$(jq -r '.mediaType // "application/vnd.oci.image.manifest.v1+json"' "$l/blobs/sha256/$m")
	out=$(registry_push_manifest "$repo" "$tag" "$l/blobs/sha256/$m" "$mt") || {
		echo "oci_push_raw: $out" >&2
		return 1
	}
}

fixture_push() {
	local name=$1 dest=$2 src extra=()
	src=$(fixture_ref "$name")
	case "$name" in
	index) extra=(--all) ;;
	list) extra=(--all --format v2s2) ;;
	v2s2) extra=(--format v2s2) ;;
	uncompressed)
		oci_push_raw "${src%:*}" "${src##*:}" "$dest" ||
			harness_fail "cannot push fixture '$name' to $REGISTRY/$dest"
		return 0
		;;
	esac
	skopeo copy --quiet "${extra[@]}" "${SKOPEO_DEST_OPTS[@]}" "oci:$src" "docker://$REGISTRY/$dest" ||
		harness_fail "cannot push fixture '$name' to $REGISTRY/$dest"
}

# fixture_push_all PREFIX: push every fixture as PREFIX/NAME:latest
fixture_push_all() {
	local f
	for f in $FIXTURES; do
		fixture_push "$f" "$1/$f:latest"
	done
}
