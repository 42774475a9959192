#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Print one line per name under DIR in the format of test_index_tar_dump:
#   path|type|mode|uid|gid|mtime.nsec|size|nlink|link|xattrs|sha256
# (the root itself is not listed). Used as the oracle side of tar_oracle.sh.
import hashlib
import os
import stat
import sys


def xattrs(p):
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
    except OSError:
        return ""
    return ",".join(n + "=" + os.getxattr(p, n, follow_symlinks=False).hex() for n in names)


def line(root, p):
    st = os.lstat(p)
    m = st.st_mode
    t = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(m)]
    sec, nsec = divmod(st.st_mtime_ns, 10**9)
    if t == "d":
        size = "-"
    elif t in "cb":
        size = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    else:
        size = str(st.st_size)
    link = os.readlink(p) if t == "l" else ""
    sha = "-"
    if t == "f":
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sha = h.hexdigest()
    rel = os.path.relpath(p, root)
    return "%s|%s|%04o|%d|%d|%d.%09d|%s|%d|%s|%s|%s" % (
        rel, t, stat.S_IMODE(m), st.st_uid, st.st_gid, sec, nsec, size, st.st_nlink, link,
        xattrs(p), sha)


def main():
    root = sys.argv[1]
    out = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.append(line(root, os.path.join(d, n)))
    sys.stdout.write("".join(s + "\n" for s in out))


main()
