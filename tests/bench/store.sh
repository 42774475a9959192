#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/store.sh [--full]
#
# podman and buildah with stratafs --store as their additional layer store
# against a normal pull, side by side in one run, cold (empty containers
# storage, empty span cache), on the benchmark image of gen.sh (quick:
# ~200 MiB, 20k entries; --full: ~1 GiB) with a static busybox layer on
# top, pushed with `strata push --base` (which pins every layer's index):
#
#   A  `podman pull IMAGE && podman run --rm IMAGE true`. Target >= 10x.
#   B  `buildah bud` of a two-line Dockerfile FROM the image (RUN reads one
#      file and writes one). Target >= 3x.
#
# The store is started inside the timed part. Needs BUILDDIR (default
# ./build), podman, buildah, runc, busybox-static; run as root.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
MODE=quick
[ "${1:-}" = --full ] && MODE=full
export SRCDIR BUILDDIR STRATA STRATAFS
for t in podman buildah runc skopeo "$STRATA" "$STRATAFS" /bin/busybox; do
	command -v "$t" >/dev/null || { echo "store bench: $t is missing" >&2; exit 1; }
done
DATA="$BENCH_CACHE/v1-$MODE"
if [ ! -f "$DATA/meta.json" ]; then
	mkdir -p "$BENCH_CACHE"
	(
		flock 9
		[ -f "$DATA/meta.json" ] || bash "$HERE/gen.sh" "$MODE" "$DATA"
	) 9>"$BENCH_CACHE/.lock"
fi

. "$SRCDIR/tests/harness/lib.sh"
harness_init
registry_start plain
W="$HARNESS_DIR/w"
mkdir -p "$W/bb/bin"
skopeo copy --quiet --dest-tls-verify=false "oci:$DATA/layout:full" "docker://$REGISTRY/bench:full"
cp /bin/busybox "$W/bb/bin/busybox"
for c in sh true cat; do ln -s busybox "$W/bb/bin/$c"; done
"$STRATA" push "$W/bb" "$REGISTRY/bench:bb" --base "$REGISTRY/bench:full" --insecure -q \
	--cache "$W/c0" >/dev/null
IMG="$REGISTRY/bench:bb"
FILE=usr/share/bench/big/big.bin

# podman's world: one config for the normal pull, one with the store
setup() { # DIR [STORE]
	mkdir -p "$1"
	{
		printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$1" "$1"
		[ -z "${2:-}" ] || printf '[storage.options]\nadditionallayerstores = ["%s:ref"]\n' "$2"
	} >"$1/storage.conf"
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$1/registries.conf"
	# (no tmp_dir of our own: podman then waits 20 s on every run for an
	# exit file conmon writes elsewhere, "Exceeded conmon timeout")
	printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\n' \
		"$1" >"$1/containers.conf"
	printf 'FROM %s\nRUN head -c 1 /%s >/dev/null && echo built >/built.txt\n' "$IMG" "$FILE" >"$1/Dockerfile"
}
env_of() { echo "CONTAINERS_STORAGE_CONF=$1/storage.conf CONTAINERS_REGISTRIES_CONF=$1/registries.conf CONTAINERS_CONF=$1/containers.conf"; }
cleanup_pm() { # DIR
	env $(env_of "$1") podman rm -a -f >/dev/null 2>&1 || true
	env $(env_of "$1") podman rmi -a -f >/dev/null 2>&1 || true
	env $(env_of "$1") buildah rm -a >/dev/null 2>&1 || true
	umount -R "$1/graph/overlay" 2>/dev/null || true
}
harness_on_exit "for d in '$W'/p-*; do CONTAINERS_STORAGE_CONF=\$d/storage.conf podman rmi -a -f >/dev/null 2>&1; umount -R \$d/graph/overlay 2>/dev/null; done; fusermount3 -u -z '$W/store' 2>/dev/null; true"

start_store() { mkdir -p "$W/store" && "$STRATAFS" --store "$W/store" -o "insecure,registry=$REGISTRY,cache=$W/cache-store"; }
stop_store() { fusermount3 -u "$W/store" 2>/dev/null || true; }

mapfile -t LAYERS < <(skopeo inspect --raw --tls-verify=false "docker://$IMG" | jq -r '.layers[].digest')
layer_bytes() { local d n=0; for d in "${LAYERS[@]}"; do n=$((n + $(registry_bytes_served "$d"))); done; echo "$n"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

run_a() { # DIR STORE?
	local d=$1 t
	t=$(now)
	[ -z "${2:-}" ] || start_store
	env $(env_of "$d") podman --log-level=error pull -q "$IMG" >/dev/null
	env $(env_of "$d") podman --log-level=error run --rm --network none "$IMG" true
	secs "$t"
}
run_b() { # DIR STORE?
	local d=$1 t
	t=$(now)
	[ -z "${2:-}" ] || start_store
	env $(env_of "$d") buildah --log-level=error bud -q -t built:1 -f "$d/Dockerfile" "$d" >/dev/null
	secs "$t"
}

setup "$W/p-base-a"
setup "$W/p-store-a" "$W/store"
setup "$W/p-base-b"
setup "$W/p-store-b" "$W/store"
registry_log_mark # (not inside $(...): the mark must outlive the subshell)
A_BASE=$(run_a "$W/p-base-a")
A_BASE_BYTES=$(layer_bytes)
rm -rf "$W/cache-store"
registry_log_mark # (not inside $(...): the mark must outlive the subshell)
A_STORE=$(run_a "$W/p-store-a" store)
A_STORE_BYTES=$(layer_bytes)
cleanup_pm "$W/p-store-a"
stop_store
registry_log_mark # (not inside $(...): the mark must outlive the subshell)
B_BASE=$(run_b "$W/p-base-b")
B_BASE_BYTES=$(layer_bytes)
rm -rf "$W/cache-store"
registry_log_mark # (not inside $(...): the mark must outlive the subshell)
B_STORE=$(run_b "$W/p-store-b" store)
B_STORE_BYTES=$(layer_bytes)
cleanup_pm "$W/p-store-b"
stop_store

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "store benchmark ($MODE image, $(jq -r '[.layers[].size] | add' "$DATA/meta.json") bytes of layers + busybox), $(date -u +%FT%TZ), $(nproc) cores"
printf '%-44s %10s %10s %8s %s\n' "" "normal" "--store" "ratio" "target"
printf '%-44s %9ss %9ss %7sx %s\n' "A podman pull + podman run IMAGE true" "$A_BASE" "$A_STORE" "$(ratio "$A_BASE" "$A_STORE")" ">= 10x"
printf '%-44s %9ss %9ss %7sx %s\n' "B buildah bud FROM IMAGE (RUN reads a file)" "$B_BASE" "$B_STORE" "$(ratio "$B_BASE" "$B_STORE")" ">= 3x"
echo "layer bytes served by the registry: A normal $A_BASE_BYTES, --store $A_STORE_BYTES; B normal $B_BASE_BYTES, --store $B_STORE_BYTES"
