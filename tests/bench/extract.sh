#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/extract.sh [--full]
#
# strata extract against skopeo copy + umoci unpack, side by side in one
# run, on the benchmark image of gen.sh (quick: ~200 MiB, 20k entries;
# --full: ~1 GiB, 100k entries; umoci's "foreign" gzip layers), pushed
# with skopeo to a registry of its own:
#
#   A  whole image: `skopeo copy docker://REF oci:DIR` + `umoci unpack`
#      vs `strata extract PINNED DEST`, cold (empty span cache; the
#      indexes come from the registry, pinned by `strata index --push
#      --tag`, done once beforehand and timed apart). Target >= 1.5x.
#   B  one subtree (usr/share/bench/s/d005, ~1000 small files): the same
#      baseline (umoci cannot unpack less) vs `strata extract PINNED DEST
#      usr/share/bench/s/d005`. Target >= 10x.
#
# Prints wall and CPU seconds (user+sys of the children), the ratios, the
# layer bytes each side fetched (registry access log) and whether strata's
# tree equals umoci's (path, type, size, mode, mtime of every entry).
# Needs BUILDDIR (default ./build) with tools/strata; run as root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
MODE=quick
[ "${1:-}" = --full ] && MODE=full
export SRCDIR BUILDDIR STRATA
[ -x "$STRATA" ] || { echo "extract bench: no strata at $STRATA" >&2; exit 1; }
for t in skopeo umoci; do
	command -v "$t" >/dev/null || { echo "extract bench: $t is not installed" >&2; exit 1; }
done

DATA="$BENCH_CACHE/v1-$MODE"
if [ ! -f "$DATA/meta.json" ]; then
	mkdir -p "$BENCH_CACHE"
	(
		flock 9
		[ -f "$DATA/meta.json" ] || bash "$HERE/gen.sh" "$MODE" "$DATA"
	) 9>"$BENCH_CACHE/.lock"
fi
SUBTREE=usr/share/bench/s/d005

. "$SRCDIR/tests/harness/lib.sh"
harness_init
registry_start plain
W="$HARNESS_DIR/w"
mkdir -p "$W"
REF="$REGISTRY/bench:full"
skopeo copy --quiet --dest-tls-verify=false "oci:$DATA/layout:full" "docker://$REF"

TIMEFORMAT='%R %U %S'
timed() { # VAR CMD...: "wall cpu" in VAR
	local var=$1 t
	shift
	t=$( { time "$@" >/dev/null 2>"$W/err"; } 2>&1 | tail -1) || { cat "$W/err" >&2; exit 1; }
	printf -v "$var" '%s' "$(awk '{ printf "%.2f %.2f", $1, $2 + $3 }' <<<"$t")"
}
mapfile -t LAYERS < <(skopeo inspect --raw --tls-verify=false "docker://$REF" | jq -r '.layers[].digest')
TOTAL=$(skopeo inspect --raw --tls-verify=false "docker://$REF" | jq '[.layers[].size] | add')
served() { local d s=0; for d in "${LAYERS[@]}"; do s=$((s + $(registry_bytes_served "$d"))); done; echo "$s"; }
listing() { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%s|%m|%T@|%l\n' | LC_ALL=C sort | sha256sum | cut -c1-16); }

# once, not timed with the rest: the pinning index (what makes a foreign image lazy)
timed T_INDEX "$STRATA" index "$REF" --push --tag pinned --insecure --cache "$W/c0" --json
PIN=$("$STRATA" index "$REF" --push --tag pinned --insecure --cache "$W/c0" --json 2>/dev/null | jq -r .pinned)

registry_log_mark
timed T_SKOPEO skopeo copy --quiet --src-tls-verify=false "docker://$REF" "oci:$W/oci:full"
timed T_UMOCI umoci unpack --image "$W/oci:full" "$W/bundle"
T_BASE=$(awk -v a="$T_SKOPEO" -v b="$T_UMOCI" 'BEGIN { split(a, x, " "); split(b, y, " ");
	printf "%.2f %.2f", x[1] + y[1], x[2] + y[2] }')
B_BASE=$(served)
registry_log_mark
timed T_ALL "$STRATA" extract "$PIN" "$W/all" --insecure --cache "$W/c1"
B_ALL=$(served)
registry_log_mark
timed T_SUB "$STRATA" extract "$PIN" "$W/sub" "$SUBTREE" --insecure --cache "$W/c2"
B_SUB=$(served)
SAME_ALL=no
[ "$(listing "$W/bundle/rootfs")" = "$(listing "$W/all")" ] && SAME_ALL=yes
SAME_SUB=no
[ "$(listing "$W/bundle/rootfs/$SUBTREE")" = "$(listing "$W/sub/$SUBTREE")" ] && SAME_SUB=yes
ENTRIES=$(find "$W/all" -mindepth 1 | wc -l)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
read -r base_w base_c <<<"$T_BASE"
read -r all_w all_c <<<"$T_ALL"
read -r sub_w sub_c <<<"$T_SUB"
MB() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
cat <<EOT
extract bench ($MODE: $(MB "$TOTAL") of gzip layers, $ENTRIES entries; $(nproc) CPUs)
  strata index --push --tag (once, beforehand)       ${T_INDEX% *} s wall
  A baseline: skopeo copy + umoci unpack            $base_w s wall  $base_c s cpu  $(MB "$B_BASE") fetched
      (skopeo copy ${T_SKOPEO% *} s, umoci unpack ${T_UMOCI% *} s wall)
  A strata extract REF DEST (cold cache)            $all_w s wall  $all_c s cpu  $(MB "$B_ALL") fetched  same tree: $SAME_ALL
    ratio (baseline / strata), target >= 1.5        $(ratio "$base_w" "$all_w")x
  B strata extract REF DEST $SUBTREE   $sub_w s wall  $sub_c s cpu  $(MB "$B_SUB") fetched  same subtree: $SAME_SUB
    ratio (baseline / strata), target >= 10         $(ratio "$base_w" "$sub_w")x
EOT
