#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# commit_tree.py ROOT: the listing commit_chain.sh compares (an overlay
# mount, a stratafs mount, an umoci rootfs), one line per path under ROOT
# (ROOT itself left out), sorted by path:
#
#   path|type|mode|uid:gid|mtime seconds|size|sha256|->target|x:user.NAME=hex...|hl=GROUP
#
# type: d f l c b p s; size and sha256 for regular files only; ->target for
# symlinks; user.* xattrs only (overlay and the registry do not carry
# trusted.*/security.*); hl=GROUP (the first path of the group) for regular
# files that share an inode with another path of the listing. Not nlink:
# overlayfs reports the lower file's nlink for a lower hardlink whose partner
# was copied up, which says nothing about the tree.
import hashlib
import os
import stat
import sys

root = sys.argv[1]
paths = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        paths.append(os.path.relpath(os.path.join(d, n), root))
paths.sort()

groups = {}
for p in paths:
    st = os.lstat(os.path.join(root, p))
    if stat.S_ISREG(st.st_mode):
        groups.setdefault((st.st_dev, st.st_ino), []).append(p)

TYPES = {stat.S_IFDIR: "d", stat.S_IFREG: "f", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}

for p in paths:
    full = os.path.join(root, p)
    st = os.lstat(full)
    m = st.st_mode
    f = [p, TYPES.get(stat.S_IFMT(m), "?"), "%04o" % stat.S_IMODE(m),
         "%d:%d" % (st.st_uid, st.st_gid), "t=%d" % int(st.st_mtime)]
    if stat.S_ISREG(m):
        h = hashlib.sha256()
        with open(full, "rb") as fh:
            for b in iter(lambda: fh.read(1 << 20), b""):
                h.update(b)
        f += ["size=%d" % st.st_size, h.hexdigest()]
    elif stat.S_ISLNK(m):
        f.append("->" + os.readlink(full))
    elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
        f.append("rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    if not stat.S_ISLNK(m):
        xs = sorted(x for x in os.listxattr(full, follow_symlinks=False)
                    if x.startswith("user."))
        f += ["x:%s=%s" % (x, os.getxattr(full, x, follow_symlinks=False).hex()) for x in xs]
    if stat.S_ISREG(m):
        g = groups[(st.st_dev, st.st_ino)]
        if len(g) > 1:
            f.append("hl=" + g[0])
    print("|".join(f))
