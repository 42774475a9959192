#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many entries: one directory of 5000 files (readdir continues across many
# calls at stable offsets) and 10000 entries in all; the listing equals
# umoci unpack's, seekdir/telldir round-trips, and `find` times are printed.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
L="$HARNESS_DIR/layout"
T="$HARNESS_DIR/tree"
mkdir -p "$T/wide"
( cd "$T/wide" && seq -f 'file-with-a-longish-name-%05g.txt' 1 5000 | xargs touch )
for d in $(seq 1 25); do
	mkdir -p "$T/deep/d$d"
	( cd "$T/deep/d$d" && seq -f "f%g" 1 200 | xargs touch )
done
echo hello >"$T/wide/file-with-a-longish-name-00042.txt"
umoci init --layout "$L" >/dev/null
umoci new --image "$L:big" >/dev/null
umoci insert --image "$L:big" "$T" / >/dev/null
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:big" "docker://$REGISTRY/fs/big:v1" ||
	harness_fail "cannot push the big image"
umoci_unpack "$L:big" "$HARNESS_DIR/ref"
REF="$HARNESS_DIR/ref/rootfs"
MNT="$HARNESS_DIR/mnt"

tap_timed fsd_mount fs/big:v1 "$MNT"
tap_is "$TAP_RC" 0 "mount of a 10k-entry image in ${TAP_SECS} s (cold)"
tap_is "$(ls -f "$MNT/wide" | grep -vc '^\.\.\?$')" 5000 "ls -f of a 5000-entry directory"
tap_is "$(ls "$MNT/wide" | md5sum)" "$(ls "$REF/wide" | md5sum)" "its names equal umoci unpack's"
tap_is "$(cat "$MNT/wide/file-with-a-longish-name-00042.txt")" "hello" "a file in it reads"
tap_ok "telldir/seekdir round-trip" /usr/bin/python3 - "$MNT/wide" <<'PY'
import ctypes, ctypes.util, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
d = libc.opendir(sys.argv[1].encode())
names, marks = [], {}
while True:
    pos = libc.telldir(d)
    e = libc.readdir(d)
    if not e:
        break
    marks[len(names)] = pos
    names.append(e.contents.d_name)
for i in (0, 1, 2, 17, 3000, 4999):
    libc.seekdir(d, marks[i])
    e = libc.readdir(d)
    assert e and e.contents.d_name == names[i], (i, names[i])
print(len(names))
PY
tree_dump "$REF" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
tap_ok "the whole tree equals umoci unpack" diff -q "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt"
tap_ok "unmount" fsd_umount "$MNT"

tap_timed fsd_mount fs/big:v1 "$MNT"
tap_is "$TAP_RC" 0 "warm mount in ${TAP_SECS} s"
tap_timed find "$MNT" -printf '%p %s %m %T@\n'
fuse_secs=$TAP_SECS
tap_is "$(wc -l <"$TAP_OUT")" "$(find "$REF" | wc -l)" "find sees every entry"
tap_timed find "$MNT" -printf '%p %s %m %T@\n'
warm_secs=$TAP_SECS
tap_timed find "$REF" -printf '%p %s %m %T@\n'
tap_diag "find -printf over $(find "$REF" | wc -l) entries: stratafs first $fuse_secs s, again $warm_secs s; ext4 $TAP_SECS s"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
