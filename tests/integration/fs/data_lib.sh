# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shared by tests/integration/fs/data_*.sh: a real registry with a
# multi-MiB one-layer image, and the store_read driver (tests/unit/fs).
#
#   data_init               harness + registry + image pushed as data/img:v1;
#                           sets W (work dir), TREE (the image's files), REF,
#                           LAYER (its layer digest), MANIFEST (digest), DRV
#   drv ARGS...             run the driver with the registry's options
#   sha FILE                hex sha256 of a file of TREE
#   json_get FILE JQ        one value of a stats JSON file

. "$SRCDIR/tests/harness/lib.sh"

SPAN=1048576

_data_rand() { # SEED SIZE
	head -c "$2" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K "$(printf '%s' "$1" | sha256sum | cut -c1-32)" \
			-iv 00000000000000000000000000000000
}

# One gzip layer: 20 MiB random, ~10 MiB of text, a hostname, 40 small files.
_data_image() {
	local i
	mkdir -p "$TREE/big" "$TREE/small" "$TREE/etc"
	_data_rand data-big 20971520 >"$TREE/big/rand.bin"
	seq 1 200000 | sed 's/$/ the quick brown fox jumps over the lazy stratafs/' >"$TREE/big/text.txt"
	echo stratafs-data >"$TREE/etc/hostname"
	for i in $(seq 1 40); do
		_data_rand "small-$i" $((i * 1000)) >"$TREE/small/f$i.bin"
	done
	umoci init --layout "$W/oci" >/dev/null
	umoci new --image "$W/oci:t" >/dev/null
	umoci insert --image "$W/oci:t" "$TREE" / >/dev/null
}

data_init() {
	harness_init
	W=$HARNESS_DIR/data
	TREE=$W/tree
	mkdir -p "$W"
	_data_image || harness_fail "cannot build the test image"
	registry_start plain
	skopeo_push "$W/oci:t" data/img:v1 || harness_fail "cannot push the test image"
	REF=$REGISTRY/data/img:v1
	MANIFEST=sha256:$(jq -r '.manifests[0].digest' "$W/oci/index.json" | cut -d: -f2)
	LAYER=$(jq -r '.layers[0].digest' "$W/oci/blobs/sha256/${MANIFEST#sha256:}")
	(cd "$TREE" && find . -type f -printf '%P\0' | xargs -0 sha256sum) >"$W/sha256sums"
	DRV=$BUILDDIR/tests/unit/fs/store_read
	[ -x "$DRV" ] || harness_fail "driver '$DRV' is not built"
}

drv() {
	"$DRV" --insecure --span-size "$SPAN" "$@"
}

sha() { # computed once by data_init
	awk -v p="$1" '$2 == p { print $1 }' "$W/sha256sums"
}

json_get() {
	jq -r "$2" "$1"
}
