#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# gen.sh MODE DEST: build the benchmark image once and cache it in DEST
# (run.sh uses /var/tmp/stratafs-bench/<version>-<mode>). MODE is quick
# (~200 MiB) or full (~1 GiB). Layers are made by umoci (Go gzip, i.e.
# "foreign" gzip that stratafs must index with checkpoints):
#   0 small   many small files + symlinks (20k / 100k entries)   tag :tree = this layer alone
#   1 big     one large file (96 / 300 MiB) in its own layer
#   2 data-a  medium files (40 / 250 MiB)
#   3 data-b  medium files (40 / 250 MiB) incl. the 1 MiB target file
# Tag :full = all four layers. DEST/tree.squashfs = mksquashfs of the rootfs
# after layer 0 (the same tree as :tree). DEST/meta.json describes it all.
set -euo pipefail
MODE=$1
DEST=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

for t in umoci mksquashfs gzip; do
	command -v "$t" >/dev/null || { echo "gen.sh: $t is not installed" >&2; exit 1; }
done

TMP="$DEST.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
L="$TMP/layout"
B="$TMP/bundle"
umoci init --layout "$L"
umoci new --image "$L:full"
umoci unpack --image "$L:full" "$B" >/dev/null
for kind in small big data-a data-b; do
	t0=$EPOCHREALTIME
	"$PY" "$HERE/bench.py" gen-tree "$kind" "$B/rootfs" --mode "$MODE"
	umoci repack --refresh-bundle --image "$L:full" "$B"
	echo "gen.sh: layer $kind done in $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s" >&2
	if [ "$kind" = small ]; then
		umoci tag --image "$L:full" tree
		mksquashfs "$B/rootfs" "$TMP/tree.squashfs" -noappend -no-progress -quiet -processors "$(nproc)" >/dev/null
	fi
done
rm -rf "$B"

# meta.json: manifests, layers with compressed and uncompressed sizes.
"$PY" - "$L" "$MODE" >"$TMP/meta.json" <<'PYEOF'
import json, os, subprocess, sys, zlib

L, mode = sys.argv[1], sys.argv[2]
def blob(d):
    return os.path.join(L, "blobs", "sha256", d.split(":", 1)[1])
idx = json.load(open(os.path.join(L, "index.json")))
tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in idx["manifests"]}
def usize(path):
    n = 0
    with subprocess.Popen(["gzip", "-dc", path], stdout=subprocess.PIPE) as p:
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                break
            n += len(b)
    return n
roles = ["small", "big", "data-a", "data-b"]
m = json.load(open(blob(tags["full"])))
layers = []
for role, l in zip(roles, m["layers"]):
    layers.append({"role": role, "digest": l["digest"], "size": l["size"],
                   "usize": usize(blob(l["digest"])), "mediaType": l["mediaType"]})
print(json.dumps({"mode": mode, "manifests": tags, "layers": layers}, indent=1))
PYEOF
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
echo "gen.sh: $DEST ready ($(du -sh "$DEST" | cut -f1))" >&2
