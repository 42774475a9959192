#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata push --base from another registry: the base's blobs cannot be
# mounted, so they are copied (downloaded once, uploaded), and so is its
# index artifact's blob; without an index in the base registry, the base
# layer's index is built by streaming it, as it is when the base's index
# blob is gone. The result mounts lazily with both indexes from the registry.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init

registry_start plain
R1=$REGISTRY
R1_STORAGE=$REGISTRY_STORAGE
mkdir -p "$HARNESS_DIR/base/etc"
echo base >"$HARNESS_DIR/base/etc/base.txt"
head -c 300000 /dev/urandom >"$HARNESS_DIR/base/etc/rand"
tap_ok "push the base to registry 1" strata_run push "$HARNESS_DIR/base" "$R1/b:1"
fixture_push single fx/single:v1 # an image made by umoci + skopeo: no stratafs index

registry_start plain
R2=$REGISTRY
mkdir -p "$HARNESS_DIR/top"
echo top >"$HARNESS_DIR/top/top.txt"
tap_ok "push --base from registry 1 to registry 2" \
	strata_run push "$HARNESS_DIR/top" "$R2/t:1" --base "$R1/b:1"
tap_ok "registry 2 has both layers" test \
	"$(skopeo inspect --tls-verify=false "docker://$R2/t:1" | jq '.Layers | length')" = 2
tap_ok "mount t:1" fsd_mount t:1 "$HARNESS_DIR/mnt"
tap_is "$(cat "$HARNESS_DIR/mnt/etc/base.txt")" base "the base's file"
tap_is "$(cat "$HARNESS_DIR/mnt/top.txt")" top "the new file"
tap_is "$("$STRATA" stats "$HARNESS_DIR/mnt" --json | jq -r '[.layers[].index_source] | join(",")')" \
	registry,registry "both indexes from registry 2"
tap_ok "unmount" fsd_umount "$HARNESS_DIR/mnt"

tap_ok "push --base of an image without an index (built by streaming)" \
	strata_run push "$HARNESS_DIR/top" "$R2/t:2" --base "$R1/fx/single:v1"
FSD_CACHE="$HARNESS_DIR/cache2" && mkdir -p "$FSD_CACHE"
tap_ok "mount t:2" fsd_mount t:2 "$HARNESS_DIR/mnt"
tap_is "$("$STRATA" stats "$HARNESS_DIR/mnt" --json | jq -r '[.layers[].index_source] | join(",")')" \
	registry,registry "the built base index was pushed too"
tap_is "$(cat "$HARNESS_DIR/mnt/top.txt")" top "the new file over the fixture"
tap_ok "unmount" fsd_umount "$HARNESS_DIR/mnt"

# the base's index artifact names an index blob that is gone: build one instead
accept() { curl -fsS -H "Accept: $1" "http://$R1/v2/b/manifests/$2"; }
MD=$(accept application/vnd.oci.image.manifest.v1+json 1 | sha256sum | cut -d' ' -f1)
ART=$(accept application/vnd.oci.image.index.v1+json "sha256-$MD" | jq -r '.manifests[0].digest')
IX=$(accept application/vnd.oci.image.manifest.v1+json "$ART" | jq -r '.layers[0].digest')
IX=${IX#sha256:}
tap_ok "the base's index blob is removed from registry 1's storage" \
	rm -r "$R1_STORAGE/docker/registry/v2/blobs/sha256/${IX:0:2}/$IX"
tap_ok "push --base whose index blob is missing (the index is built instead)" \
	strata_run push "$HARNESS_DIR/top" "$R2/t:3" --base "$R1/b:1"
FSD_CACHE="$HARNESS_DIR/cache3" && mkdir -p "$FSD_CACHE"
tap_ok "mount t:3" fsd_mount t:3 "$HARNESS_DIR/mnt"
tap_is "$("$STRATA" stats "$HARNESS_DIR/mnt" --json | jq -r '[.layers[].index_source] | join(",")')" \
	registry,registry "... both indexes in registry 2"
tap_is "$(cat "$HARNESS_DIR/mnt/etc/base.txt")" base "... the base's file"
tap_ok "unmount" fsd_umount "$HARNESS_DIR/mnt"
tap_done
