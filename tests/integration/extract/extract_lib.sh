# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by the tests of `strata ls/cat/extract REF` (images without FUSE).
#
#   ls_dump DIR           what `strata ls -l -R` prints, computed from a
#                         directory (umoci's rootfs) with Python
#   ls_norm               filter: `strata ls -l -R` output with directory
#                         sizes dropped (a real fs shows its own)
#   as_nobody CMD...      run CMD as uid/gid 65534 with no supplementary
#                         groups, in a mount namespace where /dev/fuse is
#                         an empty regular file (no FUSE), HOME and
#                         XDG_CACHE_HOME in $NOBODY_HOME (owned by nobody)
. "$SRCDIR/tests/integration/fs/mount_lib.sh"

ls_dump() {
	/usr/bin/python3 - "$1" <<'PY'
import os, stat, sys, time
root = sys.argv[1]
paths = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        paths.append(os.path.relpath(os.path.join(d, n), root))
for p in sorted(paths, key=lambda s: s.encode()):
    st = os.lstat(os.path.join(root, p))
    m = stat.filemode(st.st_mode)
    size = "-" if stat.S_ISDIR(st.st_mode) else str(st.st_size)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(st.st_mtime))
    line = "%s %d %d %d %s %s %s" % (m, st.st_nlink, st.st_uid, st.st_gid, size, when, p)
    if stat.S_ISLNK(st.st_mode):
        line += " -> " + os.readlink(os.path.join(root, p))
    print(line)
PY
}

ls_norm() {
	/usr/bin/python3 -c '
import sys
rows = []
for l in sys.stdin:
    f = l.rstrip("\n").split(None, 7)
    if f[0].startswith("d"):
        f[4] = "-"
    rows.append((f[7].split(" -> ")[0].encode(), " ".join(f)))
for _, r in sorted(rows):
    print(r)'
}

nobody_init() {
	NOBODY_HOME=$(mktemp -d /tmp/stratafs-nobody.XXXXXX)
	harness_on_exit "rm -rf '$NOBODY_HOME'"
	chmod 0755 "$NOBODY_HOME"
	chown 65534:65534 "$NOBODY_HOME"
	: >"$NOBODY_HOME/.nofuse"
}

as_nobody() {
	unshare --mount --propagation private -- /bin/sh -c '
		mount --bind "$0/.nofuse" /dev/fuse || exit 99
		exec setpriv --reuid=65534 --regid=65534 --clear-groups \
			env HOME="$0" XDG_CACHE_HOME="$0/.cache" "$@"' "$NOBODY_HOME" "$@"
}
