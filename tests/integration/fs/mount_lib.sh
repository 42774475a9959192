#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Helpers of the daemon's integration tests (mount_*, view_*, fault_*.sh);
# sourced, not a test. Needs STRATAFS, STRATA, SRCDIR (meson's integ_env).
#
#   fsd_mount REF MNT [OPTS]   mount $REGISTRY/REF on MNT (created) with
#                              -o $FSD_BASE_OPTS,cache=$FSD_CACHE[,OPTS]
#                              (FSD_BASE_OPTS defaults to "insecure"); always
#                              unmounted at exit; fails if not mounted
#   fsd_umount MNT             fusermount3 -u, then wait (5 s at most) for the daemon to exit
#   fsd_is_mounted MNT
#   tree_dump DIR              one line per path: type, mode, owner, size,
#                              mtime (ns), nlink, rdev, link target, hardlink
#                              group, xattrs (hex), sha256 of the content
. "$SRCDIR/tests/harness/lib.sh"

: "${STRATAFS:?STRATAFS is not set (run through meson test)}"
: "${STRATA:?STRATA is not set (run through meson test)}"

fsd_init() {
	harness_init
	FSD_CACHE="$HARNESS_DIR/cache"
	mkdir -p "$FSD_CACHE"
}

fsd_is_mounted() {
	grep -q " $(readlink -f "$1") fuse.stratafs " /proc/mounts
}

fsd_mount() {
	local ref=$1 mnt=$2 opts="${FSD_BASE_OPTS-insecure},cache=$FSD_CACHE${3:+,$3}"
	mkdir -p "$mnt"
	harness_on_exit "fusermount3 -u -z '$mnt' 2>/dev/null"
	"$STRATAFS" "$REGISTRY/$ref" "$mnt" -o "$opts" || return 1
	fsd_is_mounted "$mnt"
}

# The daemon of MNT ("" if none): the stratafs process whose argv names MNT.
fsd_pid() {
	local p mnt
	mnt=$(readlink -f "$1")
	for p in $(pgrep -x stratafs || true); do
		if tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx -e "$1" -e "$mnt"; then
			echo "$p"
			return 0
		fi
	done
}

# The daemon has exited: no such process, or a zombie its adopter has not
# reaped yet (that can take seconds and is not the daemon's time).
fsd_gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

fsd_umount() {
	local pid i
	pid=$(fsd_pid "$1")
	fusermount3 -u "$1" || return 1
	for i in $(seq 1 250); do
		[ -z "$pid" ] || fsd_gone "$pid" && return 0
		sleep 0.02
	done
	echo "daemon $pid of '$1' still running after unmount" >&2
	return 1
}

tree_dump() {
	/usr/bin/python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
paths = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        paths.append(os.path.relpath(os.path.join(d, n), root))
paths.sort()
first = {}
for p in paths:
    st = os.lstat(os.path.join(root, p))
    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
        first.setdefault((st.st_dev, st.st_ino), p)
for p in paths:
    full = os.path.join(root, p)
    st = os.lstat(full)
    m = st.st_mode
    f = [p, "%o" % stat.S_IFMT(m), "%04o" % stat.S_IMODE(m), "%d:%d" % (st.st_uid, st.st_gid),
         str(st.st_mtime_ns)]
    if stat.S_ISREG(m):
        h = hashlib.sha256()
        if st.st_size:
            with open(full, "rb") as fh:
                for b in iter(lambda: fh.read(1 << 20), b""):
                    h.update(b)
        f += ["size=%d" % st.st_size, "nlink=%d" % st.st_nlink, h.hexdigest()]
        if st.st_nlink > 1:
            f.append("hl=" + first[(st.st_dev, st.st_ino)])
    elif stat.S_ISLNK(m):
        f += ["->" + os.readlink(full)]
    elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
        f += ["rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))]
    if not stat.S_ISLNK(m):
        xs = sorted(x for x in os.listxattr(full, follow_symlinks=False)
                    if not x.startswith("security."))
        f += ["x:%s=%s" % (x, os.getxattr(full, x, follow_symlinks=False).hex()) for x in xs]
    print("|".join(f))
PY
}

# umoci_unpack LAYOUT:TAG DIR: the reference rootfs (DIR/rootfs)
umoci_unpack() {
	umoci unpack --image "$1" "$2" >/dev/null
}
