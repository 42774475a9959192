#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SOCI zTOCs at the index level, no registry: a GNU tar (pax: ns mtimes,
# xattrs, long names, hardlinks, symlinks, devices, a fifo, a whiteout),
# gzipped by GNU gzip (one member, and two members cut mid-tar), gets a
# zTOC from soci_build.py (true zran checkpoints of that gzip stream:
# mid-byte bits and 32 KiB windows, made by zlib itself through ctypes).
# test_index_tar_dump then lists the layer twice: indexed by stratafs
# from its bytes, and read through the zTOC (every file's content decoded
# through SOCI's spans, each span's compressed bytes checked against its
# span digest first). The two listings must be equal; also with the
# checkpoints written as zinfo version 1 (checkpoint 0 implied).
#
# Refusals: a zTOC with one wrong span digest reads every file but the
# ones in that span, and those fail with the span named; max_span_id that
# disagrees with the checkpoints, a truncated zTOC, a blob of another size
# than compressed_archive_size, another layer's zTOC: each refused with its
# reason. Root is required (owners, devices, xattrs). TAP.
. "$(dirname "$0")/../index/oracle_lib.sh"
oracle_init soci-index
BUILD="$PY $(dirname "$0")/soci_build.py"

# ---- the layer ----
s=$T/src
mkdir -p "$s/etc" "$s/dev" "$s/big" "$s/wh"
printf 'root:x:0:0::/root:/bin/sh\n' >"$s/etc/passwd"
: >"$s/etc/empty"
ln "$s/etc/passwd" "$s/etc/passwd-hard"
ln -s ../etc/passwd "$s/etc/rel"
mknod "$s/dev/null" c 1 3
mkfifo "$s/dev/fifo"
long=$(printf 'n%.0s' $(seq 1 150))
echo long >"$s/etc/$long"
meta_files "$s/etc"
: >"$s/wh/.wh.gone"
# incompressible and compressible data over many 64 KiB spans
head -c $((3 * 1024 * 1024)) /dev/urandom >"$s/big/random"
seq 1 300000 >"$s/big/text"
for i in $(seq 1 40); do echo "small $i" >"$s/big/small-$i"; done
tar --numeric-owner --format=pax --xattrs -C "$s" -cf "$T/layer.tar" .
gzip -c -6 <"$T/layer.tar" >"$T/one.gz"
half=$(($(stat -c %s "$T/layer.tar") / 2 + 12345))
{ head -c "$half" "$T/layer.tar" | gzip -c -1; tail -c +$((half + 1)) "$T/layer.tar" | gzip -c -9; } >"$T/two.gz"

same_listing() { # NAME GZ ZTOC
	local got
	"$DUMP" "$2" 2>"$T/$1.err" | LC_ALL=C sort >"$T/$1.want" || return 1
	"$DUMP" --ztoc "$3" "$2" 2>>"$T/$1.err" | LC_ALL=C sort >"$T/$1.got" || return 1
	got=$(wc -l <"$T/$1.got")
	[ "$got" -gt 50 ] && cmp -s "$T/$1.want" "$T/$1.got"
}

for g in one two; do
	out=$($BUILD ztoc "$T/$g.gz" "$T/$g.ztoc" --span 65536) || bail "soci_build.py failed on $g.gz"
	nspans=$(echo "$out" | cut -d' ' -f3)
	[ "$nspans" -ge 40 ] && ok "$g.gz: $nspans SOCI spans" || not_ok "$g.gz: only $nspans spans"
	if same_listing "$g" "$T/$g.gz" "$T/$g.ztoc"; then
		ok "$g.gz read through its zTOC equals its stratafs index (types, modes, owners, mtimes, links, xattrs, contents)"
	else
		not_ok "$g.gz through its zTOC differs"
		diff "$T/$g.want" "$T/$g.got" | head -20 | sed 's/^/# /'
		sed 's/^/# /' "$T/$g.err" | head
	fi
done
# zinfo version 1 (checkpoint 0 implied: GNU gzip from a pipe writes a 10-byte header)
$BUILD ztoc "$T/one.gz" "$T/one-v1.ztoc" --span 65536 --zinfo-v1 1 >/dev/null || bail "zinfo v1"
if same_listing one-v1 "$T/one.gz" "$T/one-v1.ztoc"; then
	ok "one.gz read through a zTOC with zinfo version 1 equals its stratafs index"
else
	not_ok "one.gz through a zinfo v1 zTOC differs"
	sed 's/^/# /' "$T/one-v1.err" | head
fi
# the checkpoints are really mid-block: some carry bits (SOCI's bits field)
bits=$($PY -c "
import sys; sys.path.insert(0, '$(dirname "$0")')
import soci_build
print(sum(1 for p in soci_build.zran(open('$T/one.gz','rb').read(), 65536) if p[2]))")
[ "$bits" -gt 0 ] && ok "$bits checkpoints start mid-byte" || not_ok "no checkpoint starts mid-byte"

# ---- forgeries and inconsistencies ----
$BUILD ztoc "$T/one.gz" "$T/bad-span.ztoc" --span 65536 --bad-span 20 >/dev/null
"$DUMP" --ztoc "$T/bad-span.ztoc" "$T/one.gz" >"$T/bad.out" 2>"$T/bad.err" && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "span 20 of layer: its compressed bytes do not match its digest" "$T/bad.err"; then
	ok "a wrong span digest fails the read of that span"
else
	not_ok "a wrong span digest was not caught (rc $rc)"
	sed 's/^/# /' "$T/bad.err" | head
fi

refused() { # WHAT ZTOC BLOB PATTERN
	if ! "$DUMP" --ztoc "$2" "$3" >/dev/null 2>"$T/ref.err" && grep -q -- "$4" "$T/ref.err"; then
		ok "refused: $1"
	else
		not_ok "not refused: $1"
		sed 's/^/# /' "$T/ref.err" | head -5
	fi
}
$BUILD ztoc "$T/one.gz" "$T/msi.ztoc" --span 65536 --max-span-id 1 >/dev/null
refused "max_span_id disagrees with the checkpoints" "$T/msi.ztoc" "$T/one.gz" "max_span_id"
head -c $(($(stat -c %s "$T/one.ztoc") / 2)) "$T/one.ztoc" >"$T/trunc.ztoc"
refused "a truncated zTOC" "$T/trunc.ztoc" "$T/one.gz" "zTOC"
cp "$T/one.gz" "$T/longer.gz"
printf 'x' >>"$T/longer.gz"
refused "a blob longer than compressed_archive_size" "$T/one.ztoc" "$T/longer.gz" "compressed_archive_size"
refused "another layer's zTOC" "$T/two.ztoc" "$T/one.gz" "zTOC"

echo "1..$n"
[ "$failed" -eq 0 ]
