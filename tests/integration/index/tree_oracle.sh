#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Oracle test of the merged tree: three layers exercising whiteouts, opaque
# dirs, replacements both ways, re-creation and hardlinks to a lower layer
# are packed as an OCI image layout and unpacked by umoci (an independent
# OCI implementation); the rootfs must equal the tree idx_tree_build makes
# of the same layers (test_index_tar_dump L0 L1 L2: names, types, modes,
# owners, mtimes, sizes, links, contents read through the index). Also the
# tree of each layer alone vs GNU tar, and the layers gzip/zstd/plain.
# Root is required (owners): not being root is a failure, never a skip. TAP.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILDDIR=${BUILDDIR:?BUILDDIR is not set}
DUMP=$BUILDDIR/tests/unit/index/test_index_tar_dump
WALK="/usr/bin/python3 $HERE/tar_walk.py"
PY=/usr/bin/python3

n=0
failed=0
result() { # result OK? DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}
bail() {
	echo "Bail out! $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || bail "tree_oracle.sh must run as root (owners)"
[ -x "$DUMP" ] || bail "missing $DUMP (build the tests)"
command -v umoci >/dev/null || bail "umoci is not installed (scripts/install-deps.sh)"

T=$(mktemp -d /tmp/stratafs-tree-oracle.XXXXXX)
trap 'rm -rf "$T"' EXIT

# Three layers and an OCI layout holding them (gzip, as umoci 0.4.7 reads).
$PY - "$T" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
T = sys.argv[1]
MT = 1600000000

def member(t, name, data=None, **kw):
    ti = tarfile.TarInfo(name)
    ti.mtime = kw.pop("mtime", MT)
    ti.mode = kw.pop("mode", 0o755 if name.endswith("/") or kw.get("type") == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(ti, k, v)
    if name.endswith("/"):
        ti.type = tarfile.DIRTYPE
    if data is not None:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)

def layer(i, entries):
    path = os.path.join(T, "l%d.tar" % i)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            member(t, *e[:2], **(e[2] if len(e) > 2 else {}))
    return path

L = [
    layer(0, [
        ("etc/", None), ("etc/a", b"a0\n"), ("etc/b", b"b0\n"),
        ("etc/sub/", None), ("etc/sub/x", b"x0\n"), ("etc/sub/keep", b"k\n"),
        ("d/", None), ("d/y", b"y\n"), ("f", b"a file\n"),
        ("opq/", None), ("opq/old1", b"o\n"), ("opq/olddir/", None), ("opq/olddir/z", b"z\n"),
        ("hl-target", b"shared\n", {"uid": 1000, "gid": 100}),
        ("h1", None, {"type": tarfile.LNKTYPE, "linkname": "hl-target"}),
        ("gone", b"bye\n"),
        ("lnk", None, {"type": tarfile.SYMTYPE, "linkname": "etc/b", "mode": 0o777}),
        ("fifo", None, {"type": tarfile.FIFOTYPE}),
    ]),
    layer(1, [
        ("etc/", None, {"mode": 0o750, "mtime": MT + 10}),
        ("etc/.wh.a", b""),
        ("etc/b", b"b1, longer\n", {"mtime": MT + 11}),
        (".wh.d", b""), ("d", b"d is a file now\n"),
        (".wh.f", b""), ("f/", None), ("f/inner", b"inner\n"),
        ("opq/", None, {"mtime": MT + 12}), ("opq/.wh..wh..opq", b""), ("opq/new", b"new\n"),
        ("h2", None, {"type": tarfile.LNKTYPE, "linkname": "hl-target"}),
        (".wh.gone", b""),
    ]),
    layer(2, [
        ("gone", b"back again\n", {"mtime": MT + 20}),
        ("etc/sub/.wh.x", b""),
        ("newdir/", None, {"mode": 0o700, "uid": 7, "gid": 8}), ("newdir/n", b"n\n"),
        (".wh.lnk", b""), ("lnk", b"a file where the symlink was\n"),
    ]),
]

lay = os.path.join(T, "layout")
blobs = os.path.join(lay, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
layers, diff_ids = [], []
for p in L:
    raw = open(p, "rb").read()
    gz = gzip.compress(raw, mtime=0)
    open(p + ".gz", "wb").write(gz)
    d, n = put(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                  "layers": layers}).encode()
md, mn = put(man)
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(lay, "oci-layout"), "w"))
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "t"}}]},
          open(os.path.join(lay, "index.json"), "w"))
EOF

for i in 0 1 2; do
	zstd -q "$T/l$i.tar" -o "$T/l$i.tar.zst"
done

if ! umoci unpack --image "$T/layout:t" "$T/bundle" >"$T/umoci.log" 2>&1; then
	sed 's/^/#   /' "$T/umoci.log"
	bail "umoci cannot unpack the test image"
fi
$WALK "$T/bundle/rootfs" | LC_ALL=C sort >"$T/want"

for ext in tar tar.gz tar.zst; do
	if "$DUMP" "$T/l0.$ext" "$T/l1.$ext" "$T/l2.$ext" 2>"$T/err" | LC_ALL=C sort >"$T/got" &&
		[ ! -s "$T/err" ] && diff -u "$T/want" "$T/got" >"$T/diff"; then
		result 0 "3 layers ($ext) merged: $(wc -l <"$T/got") names equal umoci's rootfs"
	else
		result 1 "3 layers ($ext) merged differ from umoci's rootfs"
		sed 's/^/#   /' "$T/err" "$T/diff" | head -40
	fi
done

# spot checks that the oracle really saw the cases
check_line() { # check_line PATTERN DESCRIPTION
	if grep -q -- "$1" "$T/got"; then result 0 "$2"; else result 1 "$2"; fi
}
check_line '^hl-target|f|0644|1000|100|.*|7|3|' "hardlinks from two layers share one inode (nlink 3)"
check_line '^d|f|' "a dir replaced by a file"
check_line '^f/inner|f|' "a file replaced by a dir"
check_line '^gone|f|0644|0|0|1600000020\.' "deleted then re-created"
if grep -q '^opq/old' "$T/got" || grep -q '^etc/a|' "$T/got" || grep -q '^etc/sub/x|' "$T/got"; then
	result 1 "whiteouts and the opaque dir hide the lower names"
else
	result 0 "whiteouts and the opaque dir hide the lower names"
fi
check_line '^etc|d|0750|0|0|1600000010\.' "dir over dir takes the upper attributes"

# each layer alone (whiteouts kept as files) equals GNU tar's extraction of it
for i in 0 1 2; do
	rm -rf "$T/x"
	mkdir "$T/x"
	# layer 1's h2 links to a lower layer: GNU tar fails on it, the tree drops it
	tar -xpf "$T/l$i.tar.gz" --same-owner --numeric-owner -C "$T/x" 2>"$T/tar.err" ||
		grep -q "h2: Cannot hard link" "$T/tar.err"
	$WALK "$T/x" | LC_ALL=C sort >"$T/want1"
	"$DUMP" "$T/l$i.tar.gz" 2>"$T/err" | LC_ALL=C sort >"$T/got1" || true
	# parents missing from a tar: the tree synthesises them with mtime 0 (by
	# design: deterministic), GNU tar with the time of extraction
	$PY -c '
import sys
got = {l.split("|")[0]: l.split("|") for l in open(sys.argv[1])}
for l in open(sys.argv[2]):
    f = l.split("|")
    g = got.get(f[0])
    if g and f[1] == "d" and g[1] == "d" and g[5] == "0.000000000":
        f[5] = g[5]
    sys.stdout.write("|".join(f))
' "$T/got1" "$T/want1" >"$T/want1.fixed"
	if [ -s "$T/got1" ] && diff -u "$T/want1.fixed" "$T/got1" >"$T/diff"; then
		result 0 "layer $i alone: $(wc -l <"$T/got1") names equal GNU tar's extraction"
	else
		result 1 "layer $i alone differs from GNU tar's extraction"
		sed 's/^/#   /' "$T/err" "$T/diff" | head -20
	fi
done

echo "1..$n"
[ "$failed" -eq 0 ]
