#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every tar feature a layer may use, written by real tools, read the way
# GNU tar reads it: GNU tar archives (--sparse in old GNU and pax 0.0, 0.1,
# 1.0; --format=gnu|posix|oldgnu|ustar|v7; long names; hardlink groups;
# devices; xattrs) and Python tarfile archives with unusual but valid pax
# headers (zero-padded numbers, several 'x' headers before one member, a
# Solaris 'X' header, unknown and empty records). For each archive,
# member by member: `strata ls -l -R` equals the same listing made from
# GNU tar's extraction, `strata cat` of every regular file equals the
# extracted file, and test_index_tar_dump (types, modes, owners, ns
# mtimes, sizes, links, xattrs, contents) equals tar_walk.py's walk of it.
#
# Then the path rules, which GNU tar does not follow (it extracts through
# a symlink onto the host, and skips names with ".."): the trees that
# containerd's apply makes (archive/tar.go: filepath.Clean on the name,
# fs.RootPath on its parent) are written out below and compared with the
# merged tree. Root is required (owners, devices, trusted xattrs). TAP.
. "$(dirname "$0")/oracle_lib.sh"
oracle_init tar-features

# ---- sources ----
sparse_files() { # DIR: files with holes at the start, middle and end, and all hole
	local s=$1
	truncate -s 3M "$s/holes"
	printf 'middle' | dd of="$s/holes" bs=1 seek=$((1024 * 1024)) conv=notrunc status=none
	printf 'end' | dd of="$s/holes" bs=1 seek=$((3 * 1024 * 1024 - 3)) conv=notrunc status=none
	head -c 20000 /dev/urandom >"$s/data-then-hole"
	truncate -s 5M "$s/data-then-hole"
	truncate -s 2M "$s/all-hole"
	truncate -s 1M "$s/hole-then-data"
	head -c 70000 /dev/urandom >>"$s/hole-then-data"
}

full_tree() {
	local s=$1 long deep i
	mkdir -p "$s/etc" "$s/dev" "$s/sp" "$s/tmp"
	printf 'root:x:0:0::/root:/bin/sh\n' >"$s/etc/passwd"
	: >"$s/etc/empty"
	head -c 5000 /dev/urandom >"$s/etc/bin5000"
	ln "$s/etc/passwd" "$s/etc/passwd-1"
	ln "$s/etc/passwd" "$s/passwd-2"
	ln "$s/etc/bin5000" "$s/tmp/bin-hard"
	ln -s ../etc/passwd "$s/tmp/rel"
	mknod "$s/dev/null" c 1 3
	mknod "$s/dev/sda" b 8 0
	mkfifo "$s/tmp/fifo"
	long=$(printf 'n%.0s' $(seq 1 150))
	deep=$s
	for i in $(seq 1 8); do
		deep="$deep/a-rather-long-directory-name-$i"
	done
	mkdir -p "$deep"
	echo long >"$deep/$long"
	ln -s "/target/$long" "$s/tmp/longlink"
	meta_files "$s/etc"
	sparse_files "$s/sp"
}

# What v7 and ustar can hold: short names, no devices, small ids.
small_tree() {
	local s=$1
	mkdir -p "$s/etc" "$s/sp" "$s/dir-of-a-name-that-needs-the-ustar-prefix-field-to-fit-in/second-level-directory-name/third"
	printf 'hello\n' >"$s/etc/passwd"
	ln "$s/etc/passwd" "$s/etc/hard"
	ln -s passwd "$s/etc/soft"
	echo deep >"$s/dir-of-a-name-that-needs-the-ustar-prefix-field-to-fit-in/second-level-directory-name/third/file-with-a-long-enough-name"
	sparse_files "$s/sp"
}

mkdir -p "$T/full" "$T/small"
full_tree "$T/full"
small_tree "$T/small"
TAR="tar --numeric-owner"
$TAR --format=gnu --sparse -cf "$T/gnu-sparse.tar" -C "$T/full" .
$TAR --format=oldgnu --sparse -cf "$T/oldgnu-sparse.tar" -C "$T/full" .
for v in 0.0 0.1 1.0; do
	$TAR --format=posix --sparse --sparse-version=$v --xattrs --xattrs-include='*' \
		-cf "$T/posix-sparse-$v.tar" -C "$T/full" .
done
$TAR --format=posix --xattrs --xattrs-include='*' -cf "$T/posix.tar" -C "$T/full" .
$TAR --format=ustar -cf "$T/ustar.tar" -C "$T/small" .
$TAR --format=v7 --exclude='./dir-of-*' -cf "$T/v7.tar" -C "$T/small" .
gzip -k "$T/posix-sparse-1.0.tar" "$T/oldgnu-sparse.tar"
zstd -q "$T/gnu-sparse.tar" -o "$T/gnu-sparse.tar.zst"

# Python tarfile: pax headers that are unusual but valid.
$PY - "$T/py-pax.tar" <<'EOF'
import io, sys, tarfile

def raw_x(t, records, typ=tarfile.XHDTYPE):
    """A pax header written by hand: tarfile would merge or reorder it."""
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

def member(t, name, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime = len(data), kw.pop("mtime", 1600000000)
    for k, v in kw.items():
        setattr(ti, k, v)
    t.addfile(ti, io.BytesIO(data))

with open(sys.argv[1], "wb") as f:
    t = tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT)
    member(t, "d/", type=tarfile.DIRTYPE, mode=0o755)
    # zero-padded numbers: size, uid, gid, mtime
    raw_x(t, [("size", b"000000000000000000000999"), ("uid", b"0000000000000000000000001001"),
              ("gid", b"00002002"), ("mtime", b"000000000001700000000.000000001")])
    member(t, "d/zero-padded", b"z" * 999)
    # two 'x' headers: only the second applies (no path, uid or xattr from the first)
    raw_x(t, [("path", b"d/from-the-first-header"), ("uid", b"77"),
              ("SCHILY.xattr.user.first", b"1")])
    raw_x(t, [("mtime", b"1650000000.5"), ("comment", b"a comment is ignored")])
    member(t, "d/second-wins", b"two headers\n")
    # a Solaris/star 'X' header is an 'x' header
    raw_x(t, [("mtime", b"1234567890.25"), ("SCHILY.xattr.user.x", b"from X")], typ=b"X")
    member(t, "d/after-X", b"X\n")
    # unknown keys are ignored; a path with blanks, '=' and UTF-8
    raw_x(t, [("LIBARCHIVE.creationtime", b"1"), ("SCHILY.dev", b"2049"),
              ("path", b"d/path with spaces = and \xc3\xa9")])
    member(t, "d/ustar-name", b"pax path\n", uid=42)
    # a long path and link target through pax, a negative mtime
    long = "d/" + "p" * 100 + "/" + "q" * 100
    raw_x(t, [("path", long[:102].encode() + b"/")])
    member(t, "d/p", type=tarfile.DIRTYPE, mode=0o755)
    raw_x(t, [("path", (long + "/" + "r" * 100).encode()), ("mtime", b"-1.5")])
    member(t, "d/short", b"long\n")
    raw_x(t, [("path", long.encode())])
    member(t, "d/q", type=tarfile.DIRTYPE, mode=0o700)
    raw_x(t, [("linkpath", (long + "/" + "r" * 100).encode())])
    member(t, "d/hard-to-long", type=tarfile.LNKTYPE, linkname="x")
    t.close()
EOF

# ---- GNU tar vs strata, member by member ----

# `strata ls -l -R`'s format, made from an extracted tree (dir sizes are
# fs-dependent: both sides show "-").
ls_of_dir() {
	$PY - "$1" <<'EOF'
import os, stat, sys, time
root = sys.argv[1]
def mode(m):
    t = {stat.S_IFREG: "-", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p"}[stat.S_IFMT(m)]
    return t + stat.filemode(m)[1:]
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            size = "%d, %d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        elif stat.S_ISDIR(st.st_mode):
            size = "-"
        else:
            size = str(st.st_size)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(st.st_mtime_ns // 10**9))
        line = "%s %d %d %d %s %s %s" % (mode(st.st_mode), st.st_nlink, st.st_uid, st.st_gid,
                                         size, when, rel)
        if stat.S_ISLNK(st.st_mode):
            line += " -> " + os.readlink(p)
        print(line)
EOF
}

# strata's listing with blanks squeezed and directory sizes as "-"
ls_of_layer() {
	"$STRATA" ls -l -R "$1" | sed -E 's/ +/ /g; s/^(d[^ ]* [0-9]+ [0-9]+ [0-9]+) [0-9]+ /\1 - /'
}

check_archive() {
	local name=$1 a=$T/$1 x=$T/x bad="" f
	rm -rf "$x"
	mkdir "$x"
	if ! tar -xpf "$a" --xattrs --xattrs-include='*' --same-owner --numeric-owner -C "$x" \
		2>"$T/tar.err"; then
		not_ok "$name: GNU tar extracts it"
		sed 's/^/#   /' "$T/tar.err"
		return
	fi
	ls_of_dir "$x" | LC_ALL=C sort >"$T/want.ls"
	if ! ls_of_layer "$a" 2>"$T/ls.err" | LC_ALL=C sort >"$T/got.ls" || [ -s "$T/ls.err" ]; then
		not_ok "$name: strata ls -l -R"
		sed 's/^/#   /' "$T/ls.err" | head -5
	elif diff -u "$T/want.ls" "$T/got.ls" >"$T/diff"; then
		ok "$name: strata ls -l -R equals GNU tar's extraction ($(wc -l <"$T/got.ls") names)"
	else
		not_ok "$name: strata ls -l -R differs from GNU tar's extraction"
		sed 's/^/#   /' "$T/diff" | head -30
	fi
	while IFS= read -r -d '' f; do
		"$STRATA" cat "$a" "${f#"$x"/}" 2>"$T/cat.err" | cmp -s - "$f" || bad="$bad ${f#"$x"/}"
	done < <(find "$x" -type f -print0)
	if [ -z "$bad" ]; then
		ok "$name: strata cat of every file equals GNU tar's extraction"
	else
		not_ok "$name: strata cat differs:$bad"
		sed 's/^/#   /' "$T/cat.err" | head -5
	fi
	$WALK "$x" | LC_ALL=C sort >"$T/want.dump"
	if "$DUMP" "$a" 2>"$T/dump.err" | LC_ALL=C sort >"$T/got.dump" && [ ! -s "$T/dump.err" ] &&
		diff -u "$T/want.dump" "$T/got.dump" >"$T/diff"; then
		ok "$name: every attribute and content equals GNU tar's extraction"
	else
		not_ok "$name: the index differs from GNU tar's extraction"
		sed 's/^/#   /' "$T/dump.err" "$T/diff" | head -30
	fi
}

for a in gnu-sparse.tar gnu-sparse.tar.zst oldgnu-sparse.tar oldgnu-sparse.tar.gz \
	posix-sparse-0.0.tar posix-sparse-0.1.tar posix-sparse-1.0.tar posix-sparse-1.0.tar.gz \
	posix.tar ustar.tar v7.tar py-pax.tar; do
	check_archive "$a"
done

# the fixtures really hold what they are meant to
if $PY -c 'import sys, tarfile; sys.exit(not any(m.type == tarfile.GNUTYPE_SPARSE for m in tarfile.open(sys.argv[1])))' \
	"$T/oldgnu-sparse.tar" && grep -aq 'GNU.sparse.major=1' "$T/posix-sparse-1.0.tar" &&
	grep -aq 'GNU.sparse.map=' "$T/posix-sparse-0.1.tar" && grep -aq 'GNU.sparse.offset=' "$T/posix-sparse-0.0.tar"; then
	ok "fixtures: old GNU 'S' headers and pax sparse 0.0, 0.1, 1.0 are present"
else
	not_ok "fixtures do not hold the sparse formats they should"
fi
line=$("$STRATA" ls -l "$T/posix-sparse-1.0.tar" sp/holes)
if [[ "$line" =~ ^-rw-r--r--\ +1\ +0\ +0\ +3145728\ .*\ sp/holes$ ]]; then
	ok "a sparse file shows its apparent size"
else
	not_ok "sparse ls line: '$line'"
fi
if [ "$(stat -c %s "$T/posix-sparse-1.0.tar")" -lt 1000000 ]; then
	ok "the sparse archive stores no holes ($(stat -c %s "$T/posix-sparse-1.0.tar") bytes for 13 MiB of files)"
else
	not_ok "the sparse archive is not sparse"
fi
if "$DUMP" "$T/py-pax.tar" | grep -q '^d/second-wins|f|0644|0|0|1650000000.500000000|12|1|||' &&
	! "$DUMP" "$T/py-pax.tar" | grep -q 'from-the-first-header\|user.first'; then
	ok "of two 'x' headers only the last applies"
else
	not_ok "several 'x' headers"
fi

# ---- path rules: what containerd's apply makes, not GNU tar ----
$PY - "$T" <<'EOF'
import io, os, sys, tarfile
T = sys.argv[1]
def member(t, name, data=None, **kw):
    ti = tarfile.TarInfo(name)
    ti.mtime = 1600000000
    for k, v in kw.items():
        setattr(ti, k, v)
    if data is None:
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
D, L = tarfile.DIRTYPE, tarfile.SYMTYPE
with tarfile.open(os.path.join(T, "links0.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    member(t, "etc/", type=D, mode=0o755)
    member(t, "etc-link", type=L, linkname="/etc")
    member(t, "etc-link/x", b"x\n")          # lands in etc/x
    member(t, "usr/bin/", type=D, mode=0o755)
    member(t, "bin", type=L, linkname="usr/bin")
    member(t, "a/../b", b"b\n")              # filepath.Clean: "b"
    member(t, "../../up", b"up\n")           # ".." stops at the root: "up"
    member(t, "esc", type=L, linkname="../../../tmp")
    member(t, "esc/e", b"e\n")               # the link resolves inside the root: tmp/e
with tarfile.open(os.path.join(T, "links1.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    member(t, "bin/sh", b"sh\n")             # through the lower layer's link: usr/bin/sh
    member(t, "etc-link/.wh.x")              # whiteout through the link: hides etc/x
    member(t, "etc-link/y", b"y\n")
EOF
# containerd (archive/tar.go, continuity fs.RootPath) applied to links0 then links1:
LC_ALL=C sort >"$T/want.links" <<'EOF'
b|f
bin|l
esc|l
etc|d
etc-link|l
etc/y|f
tmp|d
tmp/e|f
up|f
usr|d
usr/bin|d
usr/bin/sh|f
EOF
if "$DUMP" "$T/links0.tar" "$T/links1.tar" 2>"$T/err" | cut -d'|' -f1,2 | LC_ALL=C sort >"$T/got.links" &&
	diff -u "$T/want.links" "$T/got.links" >"$T/diff"; then
	ok "symlinked parents, 'a/../b' and '..' at the root: the tree containerd makes"
else
	not_ok "path rules differ from containerd's"
	sed 's/^/#   /' "$T/err" "$T/diff" | head -30
fi
got=$("$STRATA" ls -R "$T/links0.tar" | LC_ALL=C sort | tr '\n' ' ')
if [ "$got" = "b bin esc etc etc-link etc/x tmp tmp/e up usr usr/bin " ]; then
	ok "strata ls of the lower layer alone follows its own links the same way"
else
	not_ok "strata ls of links0.tar: '$got'"
fi
if [ "$("$STRATA" cat "$T/links0.tar" etc/x)" = "x" ]; then
	ok "strata cat reads the member where it landed"
else
	not_ok "strata cat etc/x"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
