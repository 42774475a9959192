#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The header self-containment list meson configured (HEADERS_LIST) is every
# header of the tree today: a header added since needs `meson setup
# --reconfigure` to be checked. TAP output.
set -uo pipefail
here=$(dirname "$0")
now=$(bash "$here/list_headers.sh" "${SRCDIR:-$here/../..}")
if [ "$now" = "$(cat "$HEADERS_LIST")" ]; then
	echo "ok 1 - every header is in the self-containment check ($(wc -l <<<"$now") headers)"
else
	echo "not ok 1 - the self-containment check is stale: reconfigure (meson setup --reconfigure)"
	diff <(cat "$HEADERS_LIST") <(printf '%s\n' "$now") | sed 's/^/#   /'
fi
echo "1..1"
[ "$now" = "$(cat "$HEADERS_LIST")" ]
