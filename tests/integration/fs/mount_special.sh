#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Special files and owners from a hand-made tar (python tarfile, added with
# `umoci raw add-layer`): char and block devices keep their rdev, a fifo,
# files owned by other uids/gids, sub-second mtimes (PAX). On the mount the
# devices are inert (nodev) and setuid has no effect (nosuid).
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
L="$HARNESS_DIR/layout"
/usr/bin/python3 - "$HARNESS_DIR/layer.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, type, **kw):
        ti = tarfile.TarInfo(name)
        ti.type = type
        ti.mode = kw.pop("mode", 0o644)
        ti.mtime = kw.pop("mtime", 1700000000.25)
        data = kw.pop("data", None)
        for k, v in kw.items():
            setattr(ti, k, v)
        if data is not None:
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        else:
            t.addfile(ti)
    add("dev", tarfile.DIRTYPE, mode=0o755)
    add("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
    add("dev/loop0", tarfile.BLKTYPE, mode=0o660, devmajor=7, devminor=0, gid=6)
    add("run", tarfile.DIRTYPE, mode=0o755)
    add("run/fifo", tarfile.FIFOTYPE, mode=0o600)
    add("home", tarfile.DIRTYPE, mode=0o755)
    add("home/user", tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000)
    add("home/user/notes", tarfile.REGTYPE, mode=0o640, uid=1000, gid=1000, data=b"mine\n",
        mtime=1234567890.123456789)
    add("bin", tarfile.DIRTYPE, mode=0o755)
    add("bin/setuid-id", tarfile.REGTYPE, mode=0o4755, data=open("/usr/bin/id", "rb").read())
PY
umoci init --layout "$L" >/dev/null
umoci new --image "$L:special" >/dev/null
umoci raw add-layer --image "$L:special" "$HARNESS_DIR/layer.tar" >/dev/null
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:special" "docker://$REGISTRY/fs/special:v1" ||
	harness_fail "cannot push the special-files image"
umoci_unpack "$L:special" "$HARNESS_DIR/ref"
MNT="$HARNESS_DIR/mnt"
chmod 0755 "$HARNESS_DIR" # another user must reach the mountpoint

tap_ok "mount (allow_other, so another user can try)" fsd_mount fs/special:v1 "$MNT" allow_other
tree_dump "$HARNESS_DIR/ref/rootfs" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
tap_ok "tree equals umoci unpack (devices, fifo, owners, ns mtimes)" diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt"
tap_is "$(stat -c '%F %t:%T' "$MNT/dev/null")" "character special file 1:3" "char device rdev"
tap_is "$(stat -c '%F %t:%T %g' "$MNT/dev/loop0")" "block special file 7:0 6" "block device rdev and group"
tap_is "$(stat -c '%F' "$MNT/run/fifo")" "fifo" "fifo"
tap_is "$(stat -c '%u:%g %a' "$MNT/home/user/notes")" "1000:1000 640" "owner and mode kept"
tap_is "$(stat -c '%y' "$MNT/home/user/notes")" "$(stat -c '%y' "$HARNESS_DIR/ref/rootfs/home/user/notes")" "sub-second mtime"
tap_not "nodev: the char device cannot be opened" sh -c "head -c 1 '$MNT/dev/null'"
tap_is "$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MNT/bin/setuid-id" -u 2>&1)" "65534" \
	"nosuid: a setuid-root binary runs as the caller"
tap_is "$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$MNT/bin/setuid-id" | cmp - /usr/bin/id && echo same)" \
	"same" "another user reads a 0755 file"
tap_not "default_permissions: another user cannot read a 0640 file" \
	setpriv --reuid=65534 --regid=65534 --clear-groups cat "$MNT/home/user/notes"
tap_ok "unmount" fsd_umount "$MNT"

umoci new --image "$L:empty" >/dev/null
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:empty" "docker://$REGISTRY/fs/empty:v1" ||
	harness_fail "cannot push the empty image"
tap_ok "an image with no layers mounts" fsd_mount fs/empty:v1 "$MNT"
tap_is "$(ls -A "$MNT" | wc -l)" 0 "... as an empty directory"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
