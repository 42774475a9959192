#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every dependency, builds stratafs twice (release-like and
# ASan+UBSan) and runs every test suite in both: unit, fuzz-regress,
# integration, lint. Idempotent. Prints "N passed, N failed" last.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

setup() { # DIR [meson options...]
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}

pass=0
fail=0
# --setup all: a bare `meson test` leaves the integration suites out.
run_suite() { # DIR LABEL
	local dir=$1 label=$2 rc=0 log
	echo "== $label: meson test --setup all"
	log="$dir/meson-logs/testlog-all.json"
	rm -f "$log"
	meson test -C "$dir" --setup all --print-errorlogs --num-processes 2 || rc=$?
	local ok bad
	ok=$(grep -c '"result": "OK"' "$log" || true)
	bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
	pass=$((pass + ok))
	fail=$((fail + bad))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		fail=$((fail + 1))
	fi
}

setup build -Dbuildtype=debugoptimized
run_suite build "build (debugoptimized)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
setup build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
run_suite build-asan "build-asan (ASan+UBSan)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
