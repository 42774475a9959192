#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the include rules of the README's Architecture table: which room may include
# which, and which third-party headers may appear where. TAP output.
set -uo pipefail
cd "${SRCDIR:-$(dirname "$0")/../..}"

n=0
failed=0
check() { # DESC PATTERN FILES...
	local desc=$1 pat=$2 hits
	shift 2
	n=$((n + 1))
	hits=$( (grep -nE "$pat" "$@" /dev/null 2>/dev/null || true) | head -n 20)
	if [ -z "$hits" ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$hits" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}

files() { find "$@" -name '*.[ch]' 2>/dev/null | sort; }

mapfile -t common < <(files common)
mapfile -t index < <(files index)
mapfile -t registry < <(files registry)
mapfile -t fs < <(files fs)
mapfile -t fs_nofuse < <(files fs | grep -v -E '^fs/(ll[^/]*\.c|als_ll\.c|main\.c)$')
mapfile -t tools < <(files tools)
mapfile -t headers < <(find common index registry fs tools -name '*.h' | sort)

check "common/ includes no other room" '#include "(index|registry|fs|tools)/' "${common[@]}"
check "common/ uses only libc and OpenSSL" '#include <(curl|jansson|zlib|zstd|fuse)' "${common[@]}"
check "index/ never includes registry/, fs/ or tools/" '#include "(registry|fs|tools)/' "${index[@]}"
check "index/ uses no curl, jansson, fuse, OpenSSL" '#include <(curl/|jansson|fuse|openssl/)' "${index[@]}"
check "registry/ never includes index/, fs/ or tools/" '#include "(index|fs|tools)/' "${registry[@]}"
check "registry/ uses no fuse, zlib, zstd" '#include <(fuse|zlib|zstd)' "${registry[@]}"
check "fs/ never includes tools/" '#include "tools/' "${fs[@]}"
check "fuse headers only in fs/ll*.c, fs/als_ll.c and fs/main.c" '#include <fuse' "${fs_nofuse[@]}" "${common[@]}" "${index[@]}" "${registry[@]}" "${tools[@]}"
check "tools/ includes only fs/cache.h, fs/fetch.h, fs/image.h and fs/profile.h of fs/" '#include "fs/[^"]*"' \
	$(grep -lE '#include "fs/' "${tools[@]}" /dev/null | xargs -r grep -LE '#include "fs/(cache|fetch|image|profile)\.h"' 2>/dev/null)
check "third-party headers only in .c files" '#include <(curl/|jansson|zlib|zstd|fuse|openssl/)' "${headers[@]}"
check "curl only in registry/http*.c and registry/aws/http*.c" '#include <curl/' $(files common index fs tools) $(files registry | grep -v -E "^registry/(aws/)?http[^/]*\.c$")
check "no plain symbol named index" '^[a-z].*[^_a-z]index\(' "${common[@]}" "${index[@]}" "${registry[@]}" "${fs[@]}"

echo "1..$n"
[ "$failed" -eq 0 ]
