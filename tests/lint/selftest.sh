#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The lints catch what they claim to: layering.sh and headers.sh run over
# small made-up trees, each breaking one rule, and must fail on that rule
# (and pass on a tree that breaks none). TAP output.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
result() { # DESC OK(0/1)
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}

# A tree that keeps every rule: the transport includes curl, a room its own _int.h.
clean_tree() { # DIR
	rm -rf "$1"
	mkdir -p "$1"/{common,index,registry/aws,fs,tools}
	printf '#include <curl/curl.h>\n#include "registry/http_int.h"\n' >"$1/registry/http_perform.c"
	printf '#include "fs/store_int.h"\n' >"$1/fs/store.c"
	printf '#include "index/tar_int.h"\n' >"$1/index/tar.c"
}

# breaks DESC FILE LINE RULE: FILE holding LINE makes layering.sh fail on RULE
breaks() {
	local desc=$1 file=$2 line=$3 rule=$4 out rc
	clean_tree "$tmp/tree"
	mkdir -p "$(dirname "$tmp/tree/$file")"
	printf '%s\n' "$line" >>"$tmp/tree/$file"
	out=$(SRCDIR=$tmp/tree bash "$here/layering.sh")
	rc=$?
	[ "$rc" != 0 ] && grep -qF "not ok" <<<"$out" && grep -F "not ok" <<<"$out" | grep -qF "$rule"
	result "$desc" $?
}

clean_tree "$tmp/tree"
SRCDIR=$tmp/tree bash "$here/layering.sh" >/dev/null
result "layering.sh passes a tree that keeps its rules" $?

breaks "fs/ reaching registry's _int.h fails" fs/a.c '#include "registry/registry_int.h"' \
	"fs/ includes no other room's internal header"
breaks "tools/ reaching index's _int.h fails" tools/b.c '#include "index/tar_int.h"' \
	"tools/ includes no other room's internal header"
breaks "index/ reaching fs's _int.h fails" index/c.c '#include "fs/store_int.h"' \
	"index/ includes no other room's internal header"
breaks "curl.h in registry/ outside http_*.c fails" registry/request.c '#include <curl/curl.h>' \
	"curl only in the transport"
breaks "curl.h in registry/aws/ fails" registry/aws/http_aws.c '#include <curl/curl.h>' \
	"curl only in the transport"
breaks "curl.h in fs/ fails" fs/d.c '#include <curl/curl.h>' "curl only in the transport"

# headers.sh: the configured list must be every header of the tree.
clean_tree "$tmp/tree"
printf '/* x */\n' >"$tmp/tree/fs/store_int.h"
printf '/* y */\n' >"$tmp/tree/index/tar_int.h"
bash "$here/list_headers.sh" "$tmp/tree" >"$tmp/list"
SRCDIR=$tmp/tree HEADERS_LIST=$tmp/list bash "$here/headers.sh" >/dev/null
result "headers.sh passes a complete list" $?
printf '/* z */\n' >"$tmp/tree/tools/new.h"
SRCDIR=$tmp/tree HEADERS_LIST=$tmp/list bash "$here/headers.sh" >/dev/null
[ $? != 0 ]
result "headers.sh fails when a header is missing from the list" $?

echo "1..$n"
[ "$failed" -eq 0 ]
