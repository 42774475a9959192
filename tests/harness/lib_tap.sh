# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# TAP output for tests (meson `protocol : 'tap'`).
#
#   tap_ok DESC CMD [ARGS...]    run CMD (stdin inherited); ok if it exits 0,
#                                else "not ok" and its output as diagnostics
#   tap_not DESC CMD [ARGS...]   ok if CMD exits non-zero
#   tap_is GOT WANT DESC         string equality
#   tap_pass DESC / tap_fail DESC [DIAG...]
#   tap_diag TEXT...             "# TEXT" lines
#   tap_timed CMD [ARGS...]      run CMD, set TAP_RC (its exit status),
#                                TAP_SECS (wall time, seconds, decimal) and
#                                TAP_OUT (file with its stdout+stderr)
#   tap_done                     print the plan "1..N"; non-zero if any failed
#
# Note: bash turns `set -e` off inside functions called from a condition
# (tap_ok f ... runs f that way): check functions must `|| return 1`.

TAP_N=0
TAP_FAILED=0
TAP_ACTIVE=1

tap_diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

tap_pass() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $1"
}

tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	shift
	if [ $# -gt 0 ]; then
		tap_diag "$@"
	fi
}

_tap_out() {
	[ -n "${TAP_TMP:-}" ] || TAP_TMP=$(mktemp -d "${HARNESS_DIR:-/tmp}/tap.XXXXXX")
	printf '%s/out' "$TAP_TMP"
}

tap_ok() {
	local desc=$1 out
	shift
	out=$(_tap_out)
	if "$@" >"$out" 2>&1; then
		tap_pass "$desc"
	else
		tap_fail "$desc" "exit $?: $*" "$(head -c 4000 "$out")"
	fi
}

tap_not() {
	local desc=$1 out
	shift
	out=$(_tap_out)
	if "$@" >"$out" 2>&1; then
		tap_fail "$desc" "unexpected success: $*" "$(head -c 4000 "$out")"
	else
		tap_pass "$desc"
	fi
}

tap_is() {
	if [ "$1" = "$2" ]; then
		tap_pass "$3"
	else
		tap_fail "$3" "got:  $(printf '%s' "$1" | head -c 2000)" "want: $(printf '%s' "$2" | head -c 2000)"
	fi
}

tap_timed() {
	local t0 t1
	TAP_OUT="$(_tap_out).timed"
	t0=$(date +%s.%N)
	TAP_RC=0
	"$@" >"$TAP_OUT" 2>&1 || TAP_RC=$?
	t1=$(date +%s.%N)
	TAP_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# tap_lt A B: A < B for decimals
tap_lt() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

tap_done() {
	echo "1..$TAP_N"
	if [ "$TAP_FAILED" -ne 0 ]; then
		echo "# $TAP_FAILED of $TAP_N failed" >&2
		return 1
	fi
	return 0
}
