# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Questions to the registry's access log ($REGISTRY_LOG). distribution
# writes one JSON line per finished request ("msg":"response completed",
# with http.request.method, http.request.uri, http.response.status and
# http.response.written = body bytes sent), plus combined-log lines.
#
#   registry_log_mark            later questions see only newer requests
#   registry_responses           the JSON records since the mark, one a line
#   registry_requests [METHOD [URI_REGEX]]    how many requests
#   registry_bytes_served DIGEST [REPO]       body bytes sent for GETs of that blob
#   registry_blob_gets DIGEST [REPO]          GETs of that blob
#
# Requests that failed authentication are not "completed" and not counted.

# Wait until the registry has written the log lines of finished requests
# (it logs just after the response; a fast client may ask first).
registry_log_settle() {
	local a b i
	a=$(stat -c %s "$REGISTRY_LOG")
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.05
		b=$(stat -c %s "$REGISTRY_LOG")
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}

registry_log_mark() {
	registry_log_settle
	REGISTRY_LOG_MARK=$(wc -l <"$REGISTRY_LOG")
}

registry_responses() {
	registry_log_settle
	tail -n "+$((${REGISTRY_LOG_MARK:-0} + 1))" "$REGISTRY_LOG" | grep '^{' |
		jq -c 'select((.msg // "") | startswith("response completed"))' || true
}

registry_requests() {
	local m=${1:-} re=${2:-}
	registry_responses | jq -c --arg m "$m" --arg re "$re" \
		'select(($m == "" or .["http.request.method"] == $m) and ($re == "" or (.["http.request.uri"] | test($re))))' |
		wc -l
}

_blob_uri_re() { # DIGEST [REPO]
	if [ -n "${2:-}" ]; then
		printf '^/v2/%s/blobs/%s$' "$2" "$1"
	else
		printf '^/v2/.+/blobs/%s$' "$1"
	fi
}

registry_bytes_served() {
	registry_responses | jq -s --arg re "$(_blob_uri_re "$1" "${2:-}")" \
		'map(select(.["http.request.method"] == "GET" and (.["http.request.uri"] | test($re)))
		     | .["http.response.written"] // 0) | add // 0'
}

registry_blob_gets() {
	registry_requests GET "$(_blob_uri_re "$1" "${2:-}")"
}
