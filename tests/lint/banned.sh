#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Functions we never call (git's banned list): unbounded or unsafe. TAP.
set -uo pipefail
cd "${SRCDIR:-$(dirname "$0")/../..}"
hits=$(grep -nE '(^|[^_a-z0-9.>])(strcpy|strcat|strncpy|sprintf|vsprintf|strtok|atoi|atol|gets)\(' \
	$(find common index registry fs tools tests -name '*.[ch]') /dev/null 2>/dev/null | grep -v 'banned.sh' || true)
if [ -z "$hits" ]; then
	echo "ok 1 - no banned function is called"
else
	echo "not ok 1 - banned functions called"
	printf '%s\n' "$hits" | sed 's/^/#   /'
fi
echo "1..1"
[ -z "$hits" ]
