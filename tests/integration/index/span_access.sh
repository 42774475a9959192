#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Random access through the index on layers made by the real CLIs: GNU tar
# writes the tar; gzip (one member), concatenated gzip members, pigz -i
# (independent blocks), concatenated zstd frames, zstd --long=31 frames
# (2 GiB windows), one zstd frame, and the plain tar. For each, span_check
# (tests/unit/index/test_index_span_check) compares thousands of random
# ranges and every file against the tar the CLI decompresses, and
# `strata index --json` must report the digests sha256sum computes and the
# right random-access verdict. TAP.
set -euo pipefail

BUILDDIR=${BUILDDIR:?BUILDDIR is not set}
SRCDIR=${SRCDIR:?SRCDIR is not set}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
CHECK=$BUILDDIR/tests/unit/index/test_index_span_check
# shellcheck source=../../harness/lib_tap.sh
. "$SRCDIR/tests/harness/lib_tap.sh"

for tool in gzip pigz zstd tar sha256sum python3; do
	command -v "$tool" >/dev/null || { tap_fail "$tool is installed"; tap_done; exit 1; }
done

W=$(mktemp -d /tmp/span_access.XXXXXX)
trap 'rm -rf "$W"' EXIT

# A tree with small text files, mid-size mixed files and one big file.
python3 - "$W/root" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(1234)
words = b"alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
def content(n):
    out = bytearray()
    while len(out) < n:
        if rnd.random() < 0.3:
            out += rnd.randbytes(min(4096, n - len(out)))
        else:
            out += words * 20
    return bytes(out[:n])
for d in range(4):
    p = os.path.join(root, f"dir{d}", "sub")
    os.makedirs(p)
    for i in range(40):
        with open(os.path.join(p, f"small{i}.txt"), "wb") as f:
            f.write(content(rnd.randint(0, 3000)))
    for i in range(4):
        with open(os.path.join(root, f"dir{d}", f"mid{i}.bin"), "wb") as f:
            f.write(content(rnd.randint(50000, 400000)))
with open(os.path.join(root, "big.bin"), "wb") as f:
    f.write(content(3 << 20))
os.symlink("big.bin", os.path.join(root, "link"))
EOF
tar --sort=name --mtime=@1700000000 --owner=0 --group=0 -C "$W/root" -cf "$W/layer.tar" .
size=$(stat -c %s "$W/layer.tar")
tap_diag "layer.tar: $size bytes"

# Variants, each a layer blob in $W.
gzip -6 -c "$W/layer.tar" >"$W/gzip1.tar.gz"
split -b 1500000 "$W/layer.tar" "$W/part."
for p in "$W"/part.*; do gzip -c "$p"; done >"$W/gzipN.tar.gz"
pigz -i -b 128 -p 2 -c "$W/layer.tar" >"$W/pigz_i.tar.gz"
for p in "$W"/part.*; do zstd -q -3 -c "$p"; done >"$W/zstdN.tar.zst"
for p in "$W"/part.*; do zstd -q --long=31 -c "$p"; done >"$W/zstd_long.tar.zst"
zstd -q -3 -c "$W/layer.tar" >"$W/zstd1.tar.zst"
cp "$W/layer.tar" "$W/plain.tar"

# name  expected compression  expected random access
variants="gzip1.tar.gz:gzip:true gzipN.tar.gz:gzip:true pigz_i.tar.gz:gzip:true
zstdN.tar.zst:zstd:true zstd_long.tar.zst:zstd:true zstd1.tar.zst:zstd:false plain.tar:tar:true"

want_diff="sha256:$(sha256sum "$W/layer.tar" | cut -d' ' -f1)"
seed=1
for v in $variants; do
	IFS=: read -r f comp ra <<<"$v"
	seed=$((seed + 1))
	# the CLI's own decompression is the reference
	case $f in
	*.gz) gzip -dc "$W/$f" >"$W/ref.tar" ;;
	*.zst) zstd -q -d --long=31 --memory=2048MB -c "$W/$f" >"$W/ref.tar" ;;
	*) cp "$W/$f" "$W/ref.tar" ;;
	esac
	n=2000
	[ "$ra" = false ] && n=200
	tap_ok "$f: $n random ranges and every file equal the CLI's decompression (64 KiB spans)" \
		"$CHECK" "$W/$f" "$W/ref.tar" "$n" "$seed" 65536
	tap_ok "$f: 40 ranges and every file with default 4 MiB spans" "$CHECK" "$W/$f" "$W/ref.tar" 40 "$seed"
	json=$("$STRATA" index "$W/$f" --span-size 64K --json -o "$W/$f.idx")
	tap_is "$(jq -r .compression <<<"$json")" "$comp" "$f: compression is $comp"
	tap_is "$(jq -r .random_access <<<"$json")" "$ra" "$f: random access $ra"
	tap_is "$(jq -r .diff_id <<<"$json")" "$want_diff" "$f: diff_id is the sha256 of the tar"
	tap_is "$(jq -r .blob_digest <<<"$json")" "sha256:$(sha256sum "$W/$f" | cut -d' ' -f1)" \
		"$f: blob digest is the sha256 of the blob"
	tap_is "$(jq -r .index_size <<<"$json")" "$(stat -c %s "$W/$f.idx")" "$f: -o wrote the index"
done

# The text report names the sequential-only case.
tap_ok "text report says 'sequential only' for one zstd frame" \
	bash -c "'$STRATA' index '$W/zstd1.tar.zst' --span-size 64K | grep -q 'sequential only'"
tap_not "a missing file fails" "$STRATA" index "$W/nope.tar"
tap_not "a bad span size is a usage error" "$STRATA" index "$W/plain.tar" --span-size 12x
tap_done
