#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Test harness: real CNCF distribution registries on free 127.0.0.1 ports,
# torn down on exit (also when a test fails). Source this file, then:
#
#   harness_init                 # temp dir $HARNESS_DIR, cleanup trap
#   registry_start plain         # variants: plain | tls | basic | token
#                                #   (+ basic-http, token-http: auth over plain HTTP)
#       sets REGISTRY (host:port), REGISTRY_URL, REGISTRY_LOG (access log,
#       JSON lines), REGISTRY_STORAGE, REGISTRY_VARIANT, REGISTRY_PID, and
#       STRATA_REG_OPTS: the strata options that reach this registry (an
#       array, use "${STRATA_REG_OPTS[@]}"); SKOPEO_DEST_OPTS/SKOPEO_SRC_OPTS
#       likewise for skopeo. Variants with a password put --password-stdin in
#       STRATA_REG_OPTS: feed "$REGISTRY_PASS" on strata's stdin.
#   skopeo_push OCI_LAYOUT:TAG REPO:TAG   # push with the variant's credentials
#   skopeo_pull REF DIR, skopeo_raw REF [--config]   # read it back with skopeo
#   registry_stop                # stop the current registry (and its issuer)
#   registry_gc [GC OPTIONS]     # stop it, run the registry's garbage collector
#                                # on its storage, start it again (a new port)
#   REGISTRY_SHARED_STORAGE=DIR  # (optional) the next registries serve DIR, e.g.
#                                # an earlier one's $REGISTRY_STORAGE: push once,
#                                # read through every variant
#
# More in lib_*.sh (sourced below) and README.md in this directory: TLS,
# basic and token variants (lib_auth.sh), access-log helpers (lib_log.sh),
# the fault proxy (lib_proxy.sh), fixtures (lib_fixtures.sh), TAP output
# (lib_tap.sh).
#
# A registry that cannot start is a test FAILURE (exit 1), never a skip.
set -euo pipefail

HARNESS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

harness_fail() {
	echo "harness: $*" >&2
	if [ -n "${TAP_ACTIVE:-}" ]; then
		echo "Bail out! harness: $*"
	fi
	exit 1
}

harness_cleanup() {
	local pid
	for pid in ${HARNESS_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in ${HARNESS_PIDS:-}; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${HARNESS_CLEANUP_HOOKS:-}" ]; then
		eval "$HARNESS_CLEANUP_HOOKS" || true
	fi
	if [ -n "${HARNESS_DIR:-}" ] && [ -z "${HARNESS_KEEP:-}" ]; then
		rm -rf "$HARNESS_DIR"
	fi
}

# Run a command at cleanup (before the temp dir goes), e.g. an unmount.
harness_on_exit() {
	HARNESS_CLEANUP_HOOKS="$1; ${HARNESS_CLEANUP_HOOKS:-}"
}

harness_init() {
	HARNESS_DIR=$(mktemp -d /tmp/stratafs-test.XXXXXX)
	STRATA_ERR="$HARNESS_DIR/strata.stderr" # lib_strata.sh: stderr of the last strata_run
	HARNESS_PIDS=""
	HARNESS_CLEANUP_HOOKS=""
	trap harness_cleanup EXIT
	trap 'exit 130' INT TERM
	[ -x /usr/bin/docker-registry ] || harness_fail "docker-registry is not installed (scripts/install-deps.sh)"
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [curl options...]: until the server answers at all (any status).
wait_http() {
	local url=$1 i
	shift
	for i in $(seq 1 100); do
		if curl -s -o /dev/null "$@" "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# wait_port_file FILE OUT WHAT: until a helper we started writes its port to
# FILE (10 s at most); else show its output OUT and fail: "WHAT did not start".
wait_port_file() {
	local i
	for i in $(seq 1 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	cat "$2" >&2
	harness_fail "$3 did not start"
}

registry_start() {
	local variant=${1:-plain} try
	# free_port only finds a port that was free a moment ago: if another
	# process takes it first, start again on a new one.
	for try in 1 2 3; do
		if _registry_start_once "$variant"; then
			return 0
		fi
		grep -q 'address already in use' "$REGISTRY_LOG" 2>/dev/null || break
		registry_stop
	done
	cat "$REGISTRY_LOG" >&2 || true
	harness_fail "registry ($variant) did not start on $REGISTRY"
}

_registry_start_once() {
	local variant=$1 port dir i
	port=$(free_port)
	dir="$HARNESS_DIR/registry-$port"
	mkdir -p "$dir"
	if [ -n "${REGISTRY_SHARED_STORAGE:-}" ]; then
		# serve what another registry of this test already holds (saves pushes)
		ln -sfn "$REGISTRY_SHARED_STORAGE" "$dir/storage"
	else
		mkdir -p "$dir/storage"
	fi
	REGISTRY="127.0.0.1:$port"
	REGISTRY_STORAGE="$dir/storage"
	REGISTRY_LOG="$dir/registry.log"
	REGISTRY_VARIANT=$variant
	REGISTRY_CA=""
	REGISTRY_USER=""
	REGISTRY_PASS=""
	REGISTRY_AUX_PIDS=""
	STRATA_REG_OPTS=()
	SKOPEO_DEST_OPTS=()
	SKOPEO_SRC_OPTS=()
	case "$variant" in
	plain)
		REGISTRY_URL="http://$REGISTRY"
		STRATA_REG_OPTS=(--insecure)
		SKOPEO_DEST_OPTS=(--dest-tls-verify=false)
		SKOPEO_SRC_OPTS=(--src-tls-verify=false)
		write_registry_config "$dir" "$port" ""
		;;
	*)
		if declare -F "registry_variant_$variant" >/dev/null; then
			"registry_variant_$variant" "$dir" "$port"
		else
			harness_fail "unknown registry variant '$variant'"
		fi
		;;
	esac
	/usr/bin/docker-registry serve "$dir/config.yml" >"$REGISTRY_LOG" 2>&1 &
	REGISTRY_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $!"
	for i in $(seq 1 150); do
		if curl -s -o /dev/null -k --max-time 2 "$REGISTRY_URL/v2/" 2>/dev/null; then
			return 0
		fi
		kill -0 "$REGISTRY_PID" 2>/dev/null || return 1 # it exited
		sleep 0.1
	done
	return 1
}

# write_registry_config DIR PORT EXTRA_YAML
write_registry_config() {
	cat >"$1/config.yml" <<YAML
version: 0.1
log:
  level: info
  formatter: json
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $1/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$2
  secret: stratafs-test-secret
$3
YAML
}

skopeo_push() {
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$1" "docker://$REGISTRY/$2"
}

# skopeo_pull REPO:TAG|REPO@DIGEST DIR [skopeo copy options]: copy to a
# dir: layout (one file per blob, named by hex digest; manifest.json).
skopeo_pull() {
	local src=$1 dir=$2
	shift 2
	skopeo copy --quiet "${SKOPEO_SRC_OPTS[@]}" "$@" "docker://$REGISTRY/$src" "dir:$dir"
}

# skopeo_raw REF [--config]: the manifest (or config) bytes, as stored.
skopeo_raw() {
	local ref=$1
	shift
	skopeo inspect --raw "${SKOPEO_SRC_OPTS[@]/#--src-/--}" "$@" "docker://$REGISTRY/$ref"
}

# Stop the registry started last (and the helpers a variant started with it:
# lib_auth.sh's token issuer). Needed before starting another one only when
# a test wants the old one gone; several registries may run at once.
registry_stop() {
	local pid
	for pid in ${REGISTRY_PID:-} ${REGISTRY_AUX_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	REGISTRY_PID=""
	REGISTRY_AUX_PIDS=""
}

# Stop the current registry, run distribution's garbage collector over its
# storage (it deletes every blob no manifest references), and start a
# registry of the same variant on that storage: REGISTRY changes (a new
# port). GC's output is in $HARNESS_DIR/gc.log. Options go to
# garbage-collect (--delete-untagged: manifests no tag names go too).
registry_gc() {
	local variant=$REGISTRY_VARIANT storage=$REGISTRY_STORAGE
	registry_stop
	/usr/bin/docker-registry garbage-collect "$@" "$(dirname "$storage")/config.yml" \
		>"$HARNESS_DIR/gc.log" 2>&1 || harness_fail "garbage-collect: $(tail -5 "$HARNESS_DIR/gc.log")"
	REGISTRY_SHARED_STORAGE=$storage registry_start "$variant"
}

# Optional variants and helpers (TLS, basic, token, fault proxy, fixtures).
for f in "$HARNESS_LIB_DIR"/lib_*.sh; do
	[ -e "$f" ] && . "$f"
done
true
