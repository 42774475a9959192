#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the include rules of the README's Architecture table: which room may include
# which, and which third-party headers may appear where. TAP output.
set -uo pipefail
cd "${SRCDIR:-$(dirname "$0")/../..}"

n=0
failed=0
report() { # DESC HITS: ok when HITS is empty
	local desc=$1 hits=$2
	n=$((n + 1))
	if [ -z "$hits" ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$hits" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}
check() { # DESC PATTERN FILES...
	local desc=$1 pat=$2
	shift 2
	report "$desc" "$( (grep -nE "$pat" "$@" /dev/null 2>/dev/null || true) | head -n 20)"
}

files() { find "$@" -name '*.[ch]' 2>/dev/null | sort; }

mapfile -t common < <(files common)
mapfile -t index < <(files index)
mapfile -t index_nojson < <(files index | grep -v -E '^index/(estargz_toc|zchunked[^/]*|toc_json)\.c$')
mapfile -t registry < <(files registry)
mapfile -t fs < <(files fs)
mapfile -t fs_nofuse < <(files fs | grep -v -E '^fs/(ll[^/]*\.c|als_ll\.c|main(_opts)?\.c)$')
mapfile -t tools < <(files tools)
mapfile -t headers < <(find common index registry fs tools -name '*.h' | sort)

check "common/ includes no other room" '#include "(index|registry|fs|tools)/' "${common[@]}"
check "common/ uses only libc and OpenSSL" '#include <(curl|jansson|zlib|zstd|fuse)' "${common[@]}"
check "index/ never includes registry/, fs/ or tools/" '#include "(registry|fs|tools)/' "${index[@]}"
check "index/ uses no curl, fuse, OpenSSL" '#include <(curl/|fuse|openssl/)' "${index[@]}"
check "jansson in index/ only in the JSON TOC readers" '#include <jansson' "${index_nojson[@]}"
check "registry/ never includes index/, fs/ or tools/" '#include "(index|fs|tools)/' "${registry[@]}"
check "registry/ uses no fuse, zlib, zstd" '#include <(fuse|zlib|zstd)' "${registry[@]}"
check "fs/ never includes tools/" '#include "tools/' "${fs[@]}"
check "fuse headers only in fs/ll*.c, fs/als_ll.c, fs/main.c and fs/main_opts.c" '#include <fuse' "${fs_nofuse[@]}" "${common[@]}" "${index[@]}" "${registry[@]}" "${tools[@]}"
report "tools/ includes only fs/cache.h, fs/store.h, fs/image.h, fs/profile.h and fs/stats_xattr.h of fs/" \
	"$(grep -nE '#include "fs/' "${tools[@]}" /dev/null | grep -vE '#include "fs/(cache|store|image|profile|stats_xattr)\.h"' | head -n 20)"
check "third-party headers only in .c files" '#include <(curl/|jansson|zlib|zstd|fuse|openssl/)' "${headers[@]}"
check "curl only in the transport (registry/http_*.c; not registry/aws/)" '#include <curl/' \
	$(files common index fs tools) $(files registry | grep -v -E "^registry/http_[^/]*\.c$")
rooms=(common index registry fs tools)
for room in "${rooms[@]}"; do
	others=$(printf '%s\n' "${rooms[@]}" | grep -vx "$room" | paste -sd '|')
	check "$room/ includes no other room's internal header (_int.h)" \
		"#include \"($others)/[^\"]*_int\\.h\"" $(files "$room")
done
check "no plain symbol named index" '^[a-z].*[^_a-z]index\(' "${common[@]}" "${index[@]}" "${registry[@]}" "${fs[@]}"

echo "1..$n"
[ "$failed" -eq 0 ]
