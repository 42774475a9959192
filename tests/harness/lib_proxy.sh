# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The fault proxy (fault_proxy.py) in front of the current registry, which
# must be a plain-HTTP variant (plain, basic-http, token-http).
#
#   proxy_start [RULE...]   start it; sets PROXY (host:port), PROXY_URL,
#                           PROXY_LOG (JSON lines), PROXY_PID and PROXY_OPTS
#                           (strata options that reach the registry through
#                           the proxy: a copy of STRATA_REG_OPTS)
#   proxy_mode [RULE...]    replace the rules (no rule = pass everything) and
#                           reset their counters
#   proxy_hits N            how many requests rule N (0-based) has handled
#   proxy_requests [METHOD [PATH_REGEX]]   requests logged so far
#   proxy_stop
#
# RULE is one shell word: "ACTION key=value ...", e.g.
#   proxy_mode "drop after=4096 path=/blobs/"
#   proxy_mode "status code=503 times=2"          # 2 x 503, then OK
#   proxy_mode "status code=429 retry_after=1 times=1 path=/manifests/"
#   proxy_mode "delay secs=10 path=/blobs/"        # before the headers
#   proxy_mode "delay secs=10 where=body after=1000 path=/blobs/"
#   proxy_mode "norange path=/blobs/"              # 200 + whole body for Range
#   proxy_mode "flip path=/blobs/sha256:abc"
#   proxy_mode "replace file=/tmp/bad.json path=/manifests/"
#   proxy_mode "redirect path=/blobs/"            # 307 to another origin (S3-like);
#       proxy_redirected_with_auth counts requests that followed it carrying
#       Authorization (must be 0)
# See fault_proxy.py for every action and key.

proxy_start() {
	local dir i
	case "${REGISTRY_URL:-}" in
	http://*) ;;
	*) harness_fail "proxy_start: the current registry is not plain HTTP (${REGISTRY_URL:-none})" ;;
	esac
	dir=$(mktemp -d "$HARNESS_DIR/proxy.XXXXXX")
	PROXY_LOG="$dir/proxy.log"
	: >"$PROXY_LOG"
	local auth=()
	case "$REGISTRY_VARIANT" in
	token*) ;; # a redirected request would need a bearer token: not supported
	*) [ -z "${REGISTRY_USER:-}" ] || auth=(--upstream-auth "$REGISTRY_USER:$REGISTRY_PASS") ;;
	esac
	"$PY" "$HARNESS_LIB_DIR/fault_proxy.py" --port-file "$dir/port" \
		--upstream "$REGISTRY" --log "$PROXY_LOG" "${auth[@]}" "$@" >"$dir/proxy.out" 2>&1 &
	PROXY_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $!"
	wait_port_file "$dir/port" "$dir/proxy.out" "fault proxy"
	PROXY="127.0.0.1:$(cat "$dir/port")"
	PROXY_URL="http://$PROXY"
	PROXY_OPTS=("${STRATA_REG_OPTS[@]}")
}

proxy_mode() {
	local body=""
	if [ $# -gt 0 ]; then
		body=$(printf '%s\n' "$@")
	fi
	curl -fsS -X PUT --data-binary "$body" "$PROXY_URL/__proxy/rules" >/dev/null ||
		harness_fail "proxy_mode: cannot set rules: $*"
}

proxy_hits() {
	curl -fsS "$PROXY_URL/__proxy/rules" | jq ".[$1].hits"
}

proxy_requests() {
	local m=${1:-} re=${2:-}
	jq -c --arg m "$m" --arg re "$re" \
		'select(($m == "" or .method == $m) and ($re == "" or (.path | test($re))))' \
		"$PROXY_LOG" | wc -l
}

proxy_redirected_with_auth() {
	jq -c 'select((.path | startswith("/__redirected/")) and .auth)' "$PROXY_LOG" | wc -l
}

proxy_stop() {
	if [ -n "${PROXY_PID:-}" ]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=""
	fi
}
