#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every header of the rooms, one path a line, sorted: the list the header
# self-containment check compiles (tests/lint/meson.build) and the one
# lint_headers compares it with.
set -euo pipefail
cd "${1:-${SRCDIR:-$(dirname "$0")/../..}}"
find common index registry fs tools -name '*.h' | LC_ALL=C sort
