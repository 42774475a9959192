#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Keeps files small (one job per file): a .c or .h over 1000 lines fails; over
# 800 is reported for review. TAP output.
set -uo pipefail
cd "${SRCDIR:-$(dirname "$0")/../..}"
n=0
failed=0
while IFS= read -r f; do
	lines=$(wc -l <"$f")
	n=$((n + 1))
	if [ "$lines" -gt 1000 ]; then
		echo "not ok $n - $f has $lines lines (limit 1000)"
		failed=$((failed + 1))
	else
		echo "ok $n - $f ($lines lines)"
		[ "$lines" -gt 800 ] && echo "# review: $f is over 800 lines"
	fi
done < <(find common index registry fs tools tests -name '*.[ch]' | sort)
echo "1..$n"
[ "$failed" -eq 0 ]
