#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An image whose layers use the tar features a registry may hand us: GNU
# tar's sparse files (pax 1.0 and old GNU 'S'), hardlink groups, devices,
# xattrs, long names; Python tarfile's odd but valid pax headers (zero-
# padded numbers, two 'x' headers before one member, a Solaris 'X'); and
# members placed through symlinked directories, "a/../b" and ".." at the
# root. Added with `umoci raw add-layer`, pushed with skopeo, mounted: the
# mount must equal `umoci unpack` (another Go implementation of the same
# rules) and, for the path rules, the tree containerd's apply makes.
# Old GNU 'S' members and Solaris 'X' headers are in an image of their
# own: Go's archive/tar leaves both to its caller, and umoci 0.4.7 and
# containerd then refuse the layer ("unknown/unhandled typeflag"), where
# GNU tar reads them; we read them as GNU tar does, and compare with GNU
# tar's extraction.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
H=$HARNESS_DIR
L="$H/layout"

# ---- the layers ----
S0=$H/src0
mkdir -p "$S0/sp" "$S0/etc" "$S0/dev"
truncate -s 6M "$S0/sp/holes"
printf 'middle' | dd of="$S0/sp/holes" bs=1 seek=$((3 * 1024 * 1024)) conv=notrunc status=none
printf 'end' | dd of="$S0/sp/holes" bs=1 seek=$((6 * 1024 * 1024 - 3)) conv=notrunc status=none
truncate -s 2M "$S0/sp/all-hole"
head -c 100000 /dev/urandom >"$S0/sp/data-then-hole"
truncate -s 9M "$S0/sp/data-then-hole"
printf 'root:x:0:0::/root:/bin/sh\n' >"$S0/etc/passwd"
ln "$S0/etc/passwd" "$S0/etc/passwd-"
ln "$S0/etc/passwd" "$S0/passwd-again"
mknod "$S0/dev/null" c 1 3
echo x >"$S0/etc/xattrs"
setfattr -n user.one -v 1 "$S0/etc/xattrs"
mkdir -p "$S0/$(printf 'long-directory-name-%.0s' $(seq 1 6))"
echo deep >"$S0/$(printf 'long-directory-name-%.0s' $(seq 1 6))/$(printf 'f%.0s' $(seq 1 120))"
tar --format=posix --sparse --xattrs --xattrs-include='user.*' --numeric-owner \
	-cf "$H/l0.tar" -C "$S0" .

S1=$H/src1
mkdir -p "$S1/sp2"
truncate -s 4M "$S1/sp2/gnu-holes"
printf 'gnu' | dd of="$S1/sp2/gnu-holes" bs=1 seek=$((2 * 1024 * 1024)) conv=notrunc status=none
tar --format=oldgnu --sparse --numeric-owner -cf "$H/l1.tar" -C "$S1" ./sp2

/usr/bin/python3 - "$H" <<'PY'
import io, os, sys, tarfile
H = sys.argv[1]

def raw_x(t, records, typ=tarfile.XHDTYPE):
    payload = b""
    for k, v in records:
        body = b" " + k.encode() + b"=" + v + b"\n"
        n = len(body) + 1
        while len(str(n)) + len(body) != n:
            n = len(str(n)) + len(body)
        payload += str(n).encode() + body
    ti = tarfile.TarInfo("./PaxHeaders/x")
    ti.type, ti.size = typ, len(payload)
    t.addfile(ti, io.BytesIO(payload))

def member(t, name, data=None, **kw):
    ti = tarfile.TarInfo(name)
    ti.mtime = kw.pop("mtime", 1600000000)
    ti.mode = kw.pop("mode", 0o755 if kw.get("type") == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(ti, k, v)
    if data is None:
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))

D, L = tarfile.DIRTYPE, tarfile.SYMTYPE
with open(os.path.join(H, "l2.tar"), "wb") as f:
    t = tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT)
    member(t, "pax/", type=D)
    raw_x(t, [("size", b"000000000000000000000010"), ("uid", b"000000001001"),
              ("mtime", b"0000001700000000.000000001")])
    member(t, "pax/zero-padded", b"0123456789")
    raw_x(t, [("path", b"pax/from-the-first"), ("uid", b"77")])
    raw_x(t, [("mtime", b"1650000000.5")])
    member(t, "pax/second-wins", b"two headers\n")
    t.close()
with open(os.path.join(H, "l5.tar"), "wb") as f:
    t = tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT)
    member(t, "solaris/", type=D)
    raw_x(t, [("mtime", b"1234567890.25"), ("SCHILY.xattr.user.x", b"from X")], typ=b"X")
    member(t, "solaris/after-X", b"X\n")
    t.close()
# Layers 3 and 4: the path rules. Every dir is in the tar, so nothing
# depends on how an implementation makes missing parents.
with tarfile.open(os.path.join(H, "l3.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    member(t, "etc/", type=D)
    member(t, "usr/", type=D)
    member(t, "usr/bin/", type=D)
    member(t, "tmp/", type=D, mode=0o1777)
    member(t, "etc-link", type=L, linkname="/etc", mode=0o777)
    member(t, "etc-link/x", b"x\n")
    member(t, "bin", type=L, linkname="usr/bin", mode=0o777)
    member(t, "a/../b", b"b\n")
    member(t, "../../up", b"up\n")
    member(t, "esc", type=L, linkname="../../../tmp", mode=0o777)
    member(t, "esc/e", b"e\n")
with tarfile.open(os.path.join(H, "l4.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    member(t, "bin/sh", b"sh\n")
    member(t, "etc-link/.wh.x", b"")
    member(t, "etc-link/y", b"y\n")
PY

umoci init --layout "$L" >/dev/null
umoci new --image "$L:feat" >/dev/null
for i in 0 2 3 4; do
	umoci raw add-layer --image "$L:feat" "$H/l$i.tar" >/dev/null ||
		harness_fail "umoci cannot add layer $i"
done
umoci new --image "$L:gnuonly" >/dev/null
for i in 1 5; do
	umoci raw add-layer --image "$L:gnuonly" "$H/l$i.tar" >/dev/null ||
		harness_fail "umoci cannot add layer $i"
done
for t in feat gnuonly; do
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:$t" "docker://$REGISTRY/fs/tarfeat:$t" ||
		harness_fail "cannot push the image '$t'"
done
umoci_unpack "$L:feat" "$H/ref" || harness_fail "umoci cannot unpack the image"
mkdir "$H/gnu"
for i in 1 5; do
	tar -xpf "$H/l$i.tar" --xattrs --xattrs-include='user.*' --same-owner --numeric-owner -C "$H/gnu" ||
		harness_fail "GNU tar cannot extract layer $i"
done
MNT=$H/mnt

tap_ok "mount the image" fsd_mount fs/tarfeat:feat "$MNT"
tap_is "$(stat -c '%s' "$MNT/sp/holes")" 6291456 "a sparse file shows its apparent size"
# Holes fetch nothing: the index was built at mount (the layer streamed
# once, no span kept); reading only holes must not ask the registry.
L0=$(jq -r '.layers[0].digest' "$L/blobs/sha256/$(_fx_manifest "$L" feat)")
registry_log_mark
tap_is "$(od -An -tx1 -v "$MNT/sp/all-hole" | tr -d ' \n' | tr -d 0 | wc -c)" 0 "an all-hole file reads zeros"
tap_is "$(dd if="$MNT/sp/data-then-hole" bs=1M skip=4 count=4 status=none | tr -d '\0' | wc -c)" 0 \
	"the hole of a file with data reads zeros"
tap_is "$(registry_blob_gets "$L0")" 0 "... and reading holes fetched nothing from the registry"
registry_log_mark
tap_ok "a sparse file reads as GNU tar wrote it, holes as zeros" cmp "$MNT/sp/holes" "$S0/sp/holes"
tap_is "$(dd if="$MNT/sp/holes" bs=1 skip=$((3 * 1024 * 1024)) count=6 status=none)" "middle" \
	"random access lands on the data after a hole"
tap_ok "reading data fetched the layer's span" test "$(registry_blob_gets "$L0")" -ge 1
tree_dump "$H/ref/rootfs" >"$H/want.txt"
tree_dump "$MNT" >"$H/got.txt"
tap_ok "the mount equals umoci unpack (sparse files, pax headers, path rules)" \
	diff -u "$H/want.txt" "$H/got.txt"
tap_is "$(stat -c '%u %Y' "$MNT/pax/zero-padded") $(cat "$MNT/pax/zero-padded")" \
	"1001 1700000000 0123456789" "zero-padded pax size, uid, mtime"
tap_is "$(stat -c '%u %y' "$MNT/pax/second-wins")" "0 2022-04-15 05:20:00.500000000 +0000" \
	"of two 'x' headers only the last applies"
tap_not "no member is named after a pax header" test -e "$MNT/PaxHeaders"
# containerd (archive/tar.go + continuity fs.RootPath) applied to layers 3 and 4:
#   etc-link/x -> etc/x (then hidden by layer 4's etc-link/.wh.x), etc-link/y -> etc/y,
#   bin/sh over layer 3's bin -> usr/bin lands in usr/bin/sh, a/../b is b,
#   ../../up is up, esc -> ../../../tmp resolves inside the root: esc/e is tmp/e
tap_is "$(cd "$MNT" && find b tmp up usr | LC_ALL=C sort | tr '\n' ' ')" \
	"b tmp tmp/e up usr usr/bin usr/bin/sh " "the path rules give containerd's tree"
tap_is "$(ls -A "$MNT/etc" | tr '\n' ' ')" "passwd passwd- xattrs y " \
	"etc/x (placed through etc-link) is hidden by a whiteout through etc-link; etc/y added there"
tap_is "$(readlink "$MNT/etc-link") $(readlink "$MNT/bin") $(readlink "$MNT/esc")" \
	"/etc usr/bin ../../../tmp" "the symlinks on the paths stay symlinks"
tap_ok "unmount" fsd_umount "$MNT"
# strata extract of the same image (no FUSE): the same tree, sparse files included
tap_ok "strata extract the image" "$STRATA" extract "$REGISTRY/fs/tarfeat:feat" "$H/x" --insecure \
	--cache "$H/xcache"
tree_dump "$H/x" >"$H/got-x.txt"
tap_ok "strata extract equals umoci unpack too" diff -u "$H/want.txt" "$H/got-x.txt"

tap_ok "mount the image GNU tar reads and Go does not" fsd_mount fs/tarfeat:gnuonly "$MNT"
tree_dump "$H/gnu" >"$H/want-gnu.txt"
tree_dump "$MNT" >"$H/got-gnu.txt"
tap_ok "the mount equals GNU tar's extraction (old GNU sparse, 'X' header)" \
	diff -u "$H/want-gnu.txt" "$H/got-gnu.txt"
tap_is "$(stat -c '%s' "$MNT/sp2/gnu-holes")" 4194304 "an old GNU sparse file: apparent size"
tap_ok "... and content, holes as zeros" cmp "$MNT/sp2/gnu-holes" "$S1/sp2/gnu-holes"
tap_is "$(getfattr --only-values -n user.x "$MNT/solaris/after-X" 2>/dev/null) $(stat -c %Y "$MNT/solaris/after-X")" \
	"from X 1234567890" "a Solaris 'X' header applies to its member"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
