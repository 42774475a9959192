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
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT

# Appends to $failures each failed test of a JSON log: its failed TAP
# checks ("not ok" and their "#" lines), then the end of its output. CI
# shows only the last lines of a run, so the report goes last.
report_failures() { # LOG LABEL
	python3 - "$1" "$2" >>"$failures" <<'PY'
import json, sys
log, label = sys.argv[1], sys.argv[2]
for line in open(log, encoding="utf-8", errors="replace"):
    t = json.loads(line)
    if t["result"] in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    lines = (t.get("stdout") or "").splitlines()
    print(f"--- {label}: {t['name']} {t['result']} after {t['duration']:.1f} s")
    shown = 0
    for i, out in enumerate(lines):
        if out.startswith("not ok") and shown < 40:
            for o in [out] + [x for x in lines[i + 1:i + 8] if x.startswith("#")]:
                print("    " + o[:300])
                shown += 1
    print("    ... its last lines:")
    for out in lines[-15:]:
        print("    " + out[:300])
PY
}
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
	[ "$bad" -eq 0 ] || report_failures "$log" "$label"
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

if [ -s "$failures" ]; then
	echo "== failed tests"
	cat "$failures"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
