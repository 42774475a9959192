#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# zstd:chunked fixtures, made by the real writer: Debian's skopeo 1.9.3
# (containers/storage 1.43) recompresses an OCI layout of plain GNU tar
# layers with `skopeo copy --dest-compress-format zstd:chunked` on its way
# to the test registry. Sourced after tests/harness/lib.sh.
#
#   zc_layout             prints the OCI layout (tag "zc"): two plain-tar layers
#   zc_push REPO:TAG      pushes it as zstd:chunked to $REGISTRY
#   zc_reference DIR      umoci unpack of the plain-tar original into DIR/rootfs
#                         (the oracle tree)
#
# Layer 1: 300 small files, a 4 MiB file of random bytes (the rolling
# checksum cuts it into ~60 chunks), a file with a 2 MiB run of zeros
# (a "zeros" chunk: a hole), empty files, relative/absolute/dangling
# symlinks, hardlinks, user.* xattrs on a file and a dir, 120- and
# 200-character names and a path over 255 bytes, a 0700 dir, a setuid
# file, a file owned by 1000:1000, char and block devices, a fifo.
# Layer 2: a whiteout of a file and of a dir, an opaque dir, a changed file.
#
# What skopeo writes (checked by zchunked_toc.sh): layer media type
# application/vnd.oci.image.layer.v1.tar+zstd, annotations
# io.containers.zstd-chunked.manifest-checksum (sha256 of the compressed
# TOC) and io.containers.zstd-chunked.manifest-position
# (offset:length:ulen:1), the 40-byte footer, every whiteout kept as a
# plain empty "reg" entry.
#
# The layers are GNU tar with a blocking factor of 1 (-b1): the
# containers/storage 1.43 compressor stops reading at the tar's end and
# then fails the copy with "short write" if anything follows it (GNU tar
# pads an archive to 10 KiB records by default).

ZC_MTIME=1700000000

_zc_tree1() { # DIR
	local d=$1 i len deep
	mkdir -p "$d/files" "$d/big" "$d/empty" "$d/links" "$d/xattr/dir" "$d/long" "$d/priv" \
		"$d/perms" "$d/dev" "$d/gone/sub" "$d/opq/old"
	for i in $(seq -w 0 299); do
		printf 'small file %s\n' "$i" >"$d/files/f$i"
	done
	_fx_rand zc-varied 4194304 >"$d/big/varied.bin"
	{ _fx_rand zc-h1 262144; head -c 2097152 /dev/zero; _fx_rand zc-h2 262144; } >"$d/big/holes.img"
	: >"$d/empty/e1"
	: >"$d/empty/e2"
	echo "hardlink target" >"$d/links/target.txt"
	ln "$d/links/target.txt" "$d/links/hard1"
	ln "$d/links/target.txt" "$d/links/hard2"
	ln -s target.txt "$d/links/rel"
	ln -s /files/f001 "$d/links/abs"
	ln -s does-not-exist "$d/links/dangling"
	echo "with xattrs" >"$d/xattr/file"
	setfattr -n user.zc.text -v hello "$d/xattr/file"
	setfattr -n user.zc.bin -v 0x00ff7f0a "$d/xattr/file"
	setfattr -n user.zc.dir -v on-a-dir "$d/xattr/dir"
	# names of 120 and 200 bytes, a path over 255 (ustar's limits: pax headers)
	for len in 120 200; do
		echo "$len" >"$d/long/$(printf "%${len}s" '' | tr ' ' n)"
	done
	deep="$d/long/$(printf '%90s/%90s/%90s' '' '' '' | tr ' ' d)"
	mkdir -p "$deep"
	echo "path longer than 255" >"$deep/at-the-end.txt"
	echo private >"$d/priv/secret"
	chmod 0700 "$d/priv"
	echo suid >"$d/perms/suid"
	chmod 04755 "$d/perms/suid"
	echo owned >"$d/perms/owned"
	chown 1000:1000 "$d/perms/owned"
	mknod "$d/dev/chr" c 1 3
	mknod "$d/dev/blk" b 7 0
	mkfifo "$d/dev/fifo"
	echo x >"$d/gone/x"
	echo y >"$d/gone/sub/y"
	echo old >"$d/opq/old/file"
	echo "v1" >"$d/files/changed"
}

_zc_tree2() { # DIR: the OCI whiteouts spelled as files, as a layer tar holds them
	local d=$1
	mkdir -p "$d/files" "$d/opq/new"
	: >"$d/files/.wh.f000"
	: >"$d/.wh.gone"
	: >"$d/opq/.wh..wh..opq"
	echo new >"$d/opq/new/file"
	echo "v2" >"$d/files/changed"
}

# _zc_add_layer LAYOUT TREE: append TREE as a plain tar layer to the image "zc"
_zc_add_layer() {
	local tar
	find "$2" -exec touch -h -d "@$ZC_MTIME" {} +
	tar=$(mktemp "$1/layer.XXXXXX")
	tar -b1 --format=pax --xattrs --xattrs-include='user.*' --numeric-owner -C "$2" -cf "$tar" .
	_zc_add_tar "$1" "$tar"
}

# _zc_add_tar LAYOUT TAR: move TAR (a plain tar ending right after its
# end-of-archive blocks) into the layout as the next layer of the image "zc"
_zc_add_tar() {
	local l=$1 tar=$2 m cfg h s ch cs mh ms
	h=$(sha256sum "$tar" | cut -c1-64)
	s=$(stat -c %s "$tar")
	mv "$tar" "$l/blobs/sha256/$h"
	m=$(jq -r '.manifests[0].digest' "$l/index.json" | cut -d: -f2)
	cfg=$(jq -r .config.digest "$l/blobs/sha256/$m" | cut -d: -f2)
	jq -c --arg d "sha256:$h" '.rootfs.diff_ids += [$d] | .history = []' "$l/blobs/sha256/$cfg" >"$l/cfg.new"
	ch=$(sha256sum "$l/cfg.new" | cut -c1-64)
	cs=$(stat -c %s "$l/cfg.new")
	mv "$l/cfg.new" "$l/blobs/sha256/$ch"
	jq -c --arg d "sha256:$h" --argjson s "$s" --arg c "sha256:$ch" --argjson cs "$cs" \
		'.layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $d, size: $s}]
		 | .config.digest = $c | .config.size = $cs' "$l/blobs/sha256/$m" >"$l/man.new"
	mh=$(sha256sum "$l/man.new" | cut -c1-64)
	ms=$(stat -c %s "$l/man.new")
	mv "$l/man.new" "$l/blobs/sha256/$mh"
	jq -c --arg d "sha256:$mh" --argjson s "$ms" '.manifests[0].digest = $d | .manifests[0].size = $s' \
		"$l/index.json" >"$l/index.new"
	mv "$l/index.new" "$l/index.json"
}

_zc_build() { # LAYOUT
	local l=$1
	umoci init --layout "$l"
	umoci new --image "$l:zc"
	_zc_tree1 "$l.t1"
	_zc_tree2 "$l.t2"
	_zc_add_layer "$l" "$l.t1"
	_zc_add_layer "$l" "$l.t2"
	rm -rf "$l.t1" "$l.t2"
}

# Built once per version of this file, under $BUILDDIR/harness-fixtures/ (as lib_fixtures.sh does).
zc_layout() {
	local key dir tmp
	key=$(sha256sum "$SRCDIR/tests/integration/formats/zchunked_lib.sh" | cut -c1-12)
	dir=${BUILDDIR:-/tmp}/harness-fixtures/zchunked-$key
	if [ ! -f "$dir/.done" ]; then
		mkdir -p "${dir%/*}"
		tmp=$dir.$$
		rm -rf "$tmp" "$tmp.t1" "$tmp.t2"
		# a background subshell keeps `set -e` in force inside it
		(
			set -euo pipefail
			_zc_build "$tmp"
		) >"$dir.build.log" 2>&1 &
		if ! wait $!; then
			cat "$dir.build.log" >&2
			harness_fail "cannot build the zstd:chunked fixture"
		fi
		touch "$tmp/.done"
		mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	fi
	printf '%s\n' "$dir"
}

zc_push() { # REPO:TAG
	skopeo copy --quiet --dest-compress --dest-compress-format zstd:chunked "${SKOPEO_DEST_OPTS[@]}" \
		"oci:$(zc_layout):zc" "docker://$REGISTRY/$1"
}

# zc_reference DIR: the oracle tree, `umoci unpack` of the plain-tar original (DIR/rootfs)
zc_reference() {
	umoci unpack --image "$(zc_layout):zc" "$1" >/dev/null
}
