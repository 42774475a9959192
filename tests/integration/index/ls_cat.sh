#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# strata ls / strata cat on local layer files: the per-layer view (whiteouts
# shown as the .wh.* files they are), --index with a saved index, devices,
# symlink loops, and the exit codes and messages of the failure cases. TAP.
set -euo pipefail

BUILDDIR=${BUILDDIR:?BUILDDIR is not set}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
DUMP=$BUILDDIR/tests/unit/index/test_index_tar_dump
PY=/usr/bin/python3

n=0
failed=0
check() { # check DESCRIPTION 'CONDITION': ok when the eval'd condition holds
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n - $1"
	else
		failed=$((failed + 1))
		echo "not ok $n - $1"
		printf '%s\n' "rc=${rc:-} out=${out:-}" "${err:-}" | head -5 | sed 's/^/#   /'
	fi
}
# run CMD...: sets rc, out, err
run() {
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

[ -x "$DUMP" ] || { echo "Bail out! missing $DUMP"; exit 1; }
T=$(mktemp -d /tmp/stratafs-ls-cat.XXXXXX)
trap 'rm -rf "$T"' EXIT

$PY - "$T" <<'EOF'
import io, os, sys, tarfile
T = sys.argv[1]
def add(t, name, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    t.addfile(ti, io.BytesIO(data) if data else None)
with tarfile.open(os.path.join(T, "layer.tar"), "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "etc/", type=tarfile.DIRTYPE, mode=0o755)
    add(t, "etc/hosts", b"127.0.0.1 localhost\n", mode=0o644)
    add(t, "etc/.wh.gone")
    add(t, "opq/", type=tarfile.DIRTYPE, mode=0o755)
    add(t, "opq/.wh..wh..opq")
    add(t, "opq/kept", b"kept\n")
    add(t, "dev/", type=tarfile.DIRTYPE, mode=0o755)
    add(t, "dev/tty", type=tarfile.CHRTYPE, devmajor=5, devminor=0, mode=0o666)
    add(t, "loop1", type=tarfile.SYMTYPE, linkname="loop2")
    add(t, "loop2", type=tarfile.SYMTYPE, linkname="loop1")
    add(t, "big", os.urandom(5 * 1024 * 1024 + 7), mode=0o600, uid=1000, gid=1000)
    add(t, "tmp/", type=tarfile.DIRTYPE, mode=0o1777)
    add(t, "sg/", type=tarfile.DIRTYPE, mode=0o2750)
    add(t, "su", b"x", mode=0o4644)
EOF
gzip -k "$T/layer.tar"
zstd -q "$T/layer.tar" -o "$T/layer.tar.zst"

want_root=$(printf 'big\ndev\netc\nloop1\nloop2\nopq\nsg\nsu\ntmp')
want_etc=$(printf '.wh.gone\nhosts')
want_opq=$(printf '.wh..wh..opq\nkept')
re_dev='^crw-rw-rw- +1 +0 +0 +5, +0 2023-11-14 22:13:20 dev/tty$'
re_big='^-rw------- +1 +1000 +1000 +5242887 .* big$'

run "$STRATA" ls "$T/layer.tar.gz"
check "ls lists the root sorted by bytes" '[ "$out" = "$want_root" ]'
run "$STRATA" ls "$T/layer.tar.zst" etc
check "ls shows a whiteout as the .wh. file it is" '[ "$out" = "$want_etc" ]'
run "$STRATA" ls "$T/layer.tar" /opq/
check "ls shows the opaque marker and its dir's own children" '[ "$out" = "$want_opq" ]'
run "$STRATA" ls -l "$T/layer.tar" dev/tty
check "ls -l of a device shows major, minor" '[[ "$out" =~ $re_dev ]]'
run "$STRATA" ls -l "$T/layer.tar" big
check "ls -l of a file: size and owner" '[[ "$out" =~ $re_big ]]'
run "$STRATA" ls -l "$T/layer.tar"
modes=$(printf '%s\n' "$out" | awk '$NF == "tmp" || $NF == "sg" || $NF == "su" { print $1 }' | tr '\n' ' ')
check "ls -l mode strings: sticky, setgid, setuid without x" '[ "$modes" = "drwxr-s--- -rwSr--r-- drwxrwxrwt " ]'

"$DUMP" --save "$T/layer.idx" "$T/layer.tar.gz" >/dev/null
"$DUMP" --save "$T/other.idx" "$T/layer.tar.zst" >/dev/null
want=$("$STRATA" ls -lR "$T/layer.tar.gz")
run "$STRATA" ls -lR --index "$T/layer.idx" "$T/layer.tar.gz"
check "ls --index lists what indexing the file lists" '[ "$rc" -eq 0 ] && [ "$out" = "$want" ]'
"$STRATA" cat --index "$T/layer.idx" "$T/layer.tar.gz" big >"$T/big.idx"
"$STRATA" cat "$T/layer.tar.zst" big >"$T/big.zst"
tar -xOf "$T/layer.tar" big >"$T/big.want"
check "cat --index gives the file" 'cmp -s "$T/big.idx" "$T/big.want"'
check "cat of a .tar.zst gives the file" 'cmp -s "$T/big.zst" "$T/big.want"'
run "$STRATA" cat --index "$T/other.idx" "$T/layer.tar.gz" big
check "an index of another blob: cat fails (exit 1), never prints wrong bytes" \
	'[ "$rc" -eq 1 ] && [ ! -s "$T/out" ]'

run "$STRATA" cat "$T/layer.tar" loop1
check "cat of a symlink loop: exit 1, 'cannot access'" \
	'[ "$rc" -eq 1 ] && [[ "$err" == *"cannot access '"'"'loop1'"'"'"* ]]'
run "$STRATA" cat "$T/layer.tar" etc
check "cat of a dir: exit 1, 'is a directory'" '[ "$rc" -eq 1 ] && [[ "$err" == *"is a directory"* ]]'
run "$STRATA" ls "$T/missing.tar"
check "ls of a missing file: exit 1, 'cannot open'" '[ "$rc" -eq 1 ] && [[ "$err" == *"cannot open"* ]]'
head -c 4096 /dev/urandom >"$T/garbage.tar"
run "$STRATA" ls "$T/garbage.tar"
check "ls of a non-tar: exit 1, 'cannot index'" '[ "$rc" -eq 1 ] && [[ "$err" == *"cannot index"* ]]'
run "$STRATA" ls
check "ls without arguments: usage, exit 2" '[ "$rc" -eq 2 ] && [[ "$err" == usage:* ]]'
run "$STRATA" cat "$T/layer.tar"
check "cat without a path: usage, exit 2" '[ "$rc" -eq 2 ]'
run "$STRATA" ls --bogus "$T/layer.tar"
check "unknown option: exit 2" '[ "$rc" -eq 2 ]'
run "$STRATA" ls --help
check "--help: exit 0, usage on stdout" '[ "$rc" -eq 0 ] && [[ "$out" == usage:* ]]'

echo "1..$n"
[ "$failed" -eq 0 ]
