#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Oracle test of the tar reader + index + tree: archives written by GNU tar
# (gnu and posix formats, xattrs, long names, devices, hardlinks, sparse)
# and by Python's tarfile, uncompressed, gzip and zstd. For each, what the
# index says (test_index_tar_dump: every name with type, mode, owner,
# mtime, size, links, xattrs and the sha256 of the content read back
# through idx_file_read) must equal what GNU tar extracts as root
# (--same-owner --numeric-owner --xattrs), walked by tar_walk.py.
# Also: `strata ls -lR` and `strata cat` on the same files, sparse files
# read back whole, and umoci-style truncated tars. Root is required (owners,
# devices, trusted xattrs): not being root is a failure, never a skip. TAP.
. "$(dirname "$0")/oracle_lib.sh"
oracle_init tar-oracle

# ---- the source tree: everything a layer can hold ----
make_tree() {
	local s=$1 long deep i
	mkdir -p "$s/etc" "$s/bin" "$s/tmp" "$s/empty" "$s/dev" "$s/sgid"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$s/etc/passwd"
	: >"$s/etc/zero"
	head -c 511 /dev/urandom >"$s/etc/b511"
	head -c 512 /dev/urandom >"$s/etc/b512"
	head -c 513 /dev/urandom >"$s/etc/b513"
	head -c $((1024 * 1024 + 3)) /dev/urandom >"$s/bin/onemeg"
	head -c $((9 * 1024 * 1024 + 17)) /dev/urandom >"$s/bin/ninemeg" # several 4 MiB spans
	printf '#!/bin/sh\n' >"$s/bin/suid"
	chmod 4755 "$s/bin/suid"
	chmod 1777 "$s/tmp"
	chmod 2750 "$s/sgid"
	chmod 0700 "$s/empty"
	ln -s ../etc/passwd "$s/bin/rel"
	ln -s /etc/passwd "$s/bin/abs"
	ln -s does/not/exist "$s/bin/dangling"
	long=$(printf 'x%.0s' $(seq 1 180))
	ln -s "/very/$long/target" "$s/bin/longtarget"
	ln "$s/etc/passwd" "$s/etc/passwd-hard"
	ln "$s/etc/passwd" "$s/bin/passwd-hard2"
	mkfifo "$s/tmp/fifo"
	mknod "$s/dev/null" c 1 3
	mknod "$s/dev/loop0" b 7 0
	mknod "$s/dev/big" c 300 70000
	deep=$s
	for i in $(seq 1 12); do
		deep="$deep/directory-level-$i"
	done
	mkdir -p "$deep"
	echo deep >"$deep/file-with-a-rather-long-name-$long"
	echo "caf" >"$s/etc/caf$(printf '\303\251')"
	echo own >"$s/etc/owned"
	chown 1234:5678 "$s/etc/owned"
	echo bigid >"$s/etc/bigid"
	chown 3000000:4000000 "$s/etc/bigid"
	: >"$s/etc/.wh.hidden" # a whiteout marker (empty, as in layers) is shown as a file
	echo x >"$s/etc/xattrs"
	setfattr -n user.text -v hello "$s/etc/xattrs"
	setfattr -n user.bin -v 0x00ff0a3d3d00 "$s/etc/xattrs"
	setfattr -n trusted.overlay.opaque -v y "$s/etc"
	echo ns >"$s/etc/nsec"
	touch -d '2020-02-03 04:05:06.123456789' "$s/etc/nsec"
	echo old >"$s/etc/old"
	touch -d '1960-06-01 12:00:00' "$s/etc/old"
	touch -h -d '2001-01-01 00:00:00' "$s/bin/rel"
}

# sorted, so the tree's DFS order and os.walk's order do not matter
compare() {
	local what=$1 archive=$2 out=$T/x
	rm -rf "$out"
	mkdir "$out"
	if ! tar -xpf "$archive" --xattrs --xattrs-include='*' --same-owner --numeric-owner \
		-C "$out" 2>"$T/tar.err"; then
		not_ok "$what: GNU tar extracts it"
		sed 's/^/#   /' "$T/tar.err"
		return
	fi
	$WALK "$out" | LC_ALL=C sort >"$T/want"
	if ! "$DUMP" "$archive" 2>"$T/dump.err" | LC_ALL=C sort >"$T/got"; then
		not_ok "$what: indexed and dumped"
		sed 's/^/#   /' "$T/dump.err"
		return
	fi
	if [ ! -s "$T/dump.err" ] && diff -u "$T/want" "$T/got" >"$T/diff"; then
		ok "$what: $(wc -l <"$T/got") names equal GNU tar's extraction"
	else
		not_ok "$what: index differs from GNU tar's extraction"
		sed 's/^/#   /' "$T/dump.err" "$T/diff" | head -40
	fi
}

compress_all() {
	local base=$1
	gzip -c "$base" >"$base.gz"
	zstd -q -c "$base" >"$base.zst"
}

S=$T/src
make_tree "$S"

tar --format=gnu --numeric-owner -cf "$T/gnu.tar" -C "$S" .
tar --format=posix --xattrs --xattrs-include='*' --numeric-owner -cf "$T/posix.tar" -C "$S" .
$PY - "$S" "$T/py-pax.tar" "$T/py-gnu.tar" <<'EOF'
import sys, tarfile
src, pax, gnu = sys.argv[1:4]
for out, fmt in ((pax, tarfile.PAX_FORMAT), (gnu, tarfile.GNU_FORMAT)):
    with tarfile.open(out, "w", format=fmt) as t:
        t.add(src, arcname=".")
EOF
for a in gnu posix py-pax py-gnu; do
	compress_all "$T/$a.tar"
	for ext in tar tar.gz tar.zst; do
		compare "$a.$ext" "$T/$a.$ext"
	done
done

# ---- strata ls / cat on the same archives ----
for f in posix.tar.gz gnu.tar.zst py-pax.tar; do
	want=$(cd "$S" && find . -mindepth 1 | wc -l)
	got=$("$STRATA" ls -lR "$T/$f" | wc -l)
	if [ "$got" -eq "$want" ]; then
		ok "strata ls -lR $f lists $got names"
	else
		not_ok "strata ls -lR $f lists $got names, want $want"
	fi
	bad=""
	for p in etc/passwd etc/zero etc/b511 etc/b512 etc/b513 bin/onemeg bin/ninemeg \
		bin/passwd-hard2 "etc/caf$(printf '\303\251')"; do
		if ! "$STRATA" cat "$T/$f" "$p" 2>"$T/cat.err" | cmp -s - "$S/$p"; then
			bad="$bad $p"
			sed 's/^/#   /' "$T/cat.err"
		fi
	done
	if [ -z "$bad" ]; then ok "strata cat $f: contents equal"; else not_ok "strata cat $f:$bad"; fi
done
line=$("$STRATA" ls -l "$T/posix.tar" etc/owned)
if [[ "$line" =~ ^-rw-r--r--\ +1\ +1234\ +5678\ +4\ .*\ etc/owned$ ]]; then
	ok "strata ls -l shows mode, links, owner, size, name"
else
	not_ok "strata ls -l line: '$line'"
fi
line=$("$STRATA" ls -l "$T/gnu.tar" bin/rel)
if [[ "$line" =~ ^lrwxrwxrwx\ .*\ 2001-01-01\ 00:00:00\ bin/rel\ -\>\ ../etc/passwd$ ]]; then
	ok "strata ls -l shows a symlink's target and UTC mtime"
else
	not_ok "strata ls -l symlink line: '$line'"
fi
if "$STRATA" cat "$T/gnu.tar" bin/rel | cmp -s - "$S/etc/passwd"; then
	ok "strata cat follows a final symlink inside the layer"
else
	not_ok "strata cat through a symlink"
fi
set +e
"$STRATA" cat "$T/gnu.tar" etc/missing >/dev/null 2>"$T/err"
rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q "cannot access 'etc/missing'" "$T/err"; then
	ok "strata cat of a missing path: exit 1, 'cannot access'"
else
	not_ok "strata cat of a missing path: rc=$rc $(cat "$T/err")"
fi

# ---- sparse files: read right (tar_features.sh has every format) ----
SP=$T/sparse
mkdir "$SP"
truncate -s 20M "$SP/holes"
printf 'middle' | dd of="$SP/holes" bs=1 seek=$((10 * 1024 * 1024)) conv=notrunc status=none
for fmt in gnu posix; do
	tar --format=$fmt --sparse -cf "$T/sparse-$fmt.tar" -C "$SP" .
	set +e
	"$DUMP" "$T/sparse-$fmt.tar" >"$T/sp.out" 2>"$T/sp.err"
	rc=$?
	set -e
	if [ "$rc" -eq 0 ] && grep -q "^holes|f|0644|0|0|.*|20971520|1|||$(sha256sum <"$SP/holes" | cut -c1-64)$" "$T/sp.out"; then
		ok "sparse ($fmt): read correctly"
	else
		not_ok "sparse ($fmt): rc=$rc, not the right content"
		sed 's/^/#   /' "$T/sp.err" | head -5
	fi
done

# ---- umoci 0.4.7: no padding after the last member, no EOF blocks ----
$PY - "$T/umoci.tar" <<'EOF'
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name, data in (("a", b"first\n"), ("dir/b", b"the last member\n")):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = 1700000000
        t.addfile(ti, io.BytesIO(data))
raw = buf.getvalue()
# cut right after the last member's data: its padding and the EOF blocks go
end = raw.index(b"the last member") + len(b"the last member\n")
open(sys.argv[1], "wb").write(raw[:end])
EOF
if "$DUMP" "$T/umoci.tar" >"$T/u.out" 2>"$T/u.err" && grep -q '^dir/b|f|0644|0|0|1700000000.000000000|16|1|||' "$T/u.out" &&
	[ "$("$STRATA" cat "$T/umoci.tar" dir/b)" = "the last member" ]; then
	ok "umoci-style tar without padding or EOF blocks is read whole"
else
	not_ok "umoci-style tar"
	sed 's/^/#   /' "$T/u.err" "$T/u.out"
fi
head -c $(($(stat -c %s "$T/umoci.tar") - 5)) "$T/umoci.tar" >"$T/trunc.tar"
if ! "$DUMP" "$T/trunc.tar" >/dev/null 2>"$T/t.err" && grep -q "truncated" "$T/t.err"; then
	ok "a tar cut inside a member's data is refused: $(head -1 "$T/t.err")"
else
	not_ok "truncated tar accepted"
fi

# A pax global header ('g'): containerd, moby and containers/storage apply a
# layer skipping it, so the mount shows each member's own fields. (GNU tar
# applies it to later members; umoci 0.4.7 refuses the layer.)
$PY - "$T/global.tar" <<'EOF'
import io, sys, tarfile
g = {"uid": "1234", "mtime": "5000", "SCHILY.xattr.user.g": "gv", "path": "renamed"}
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT, pax_headers=g) as t:
    ti = tarfile.TarInfo("f")
    ti.size, ti.uid, ti.mtime = 6, 7, 1000000000
    t.addfile(ti, io.BytesIO(b"hello\n"))
EOF
mkdir -p "$T/gnu-global"
tar -xf "$T/global.tar" -C "$T/gnu-global" --numeric-owner 2>/dev/null || true
got=$("$STRATA" ls -l "$T/global.tar" 2>&1)
if [ -e "$T/gnu-global/renamed" ] && grep -qE '^-rw-r--r-- +1 +7 +0 +6 2001-09-09 01:46:40 f$' <<<"$got" &&
	[ "$("$STRATA" cat "$T/global.tar" f 2>/dev/null)" = hello ] && ! "$DUMP" "$T/global.tar" | grep -q 'user.g'; then
	ok "a pax global header is checked but not applied (as containerd; GNU tar renamed the file)"
else
	not_ok "pax global header: $got"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
