#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The symlink-escape attack on extraction: an image plants symlinks to a
# victim directory (absolute, "../.." relative, "..", "/", one inside a
# dir, or left in DEST by an earlier extraction) and then writes through them ("a -> /victim" then "a/x", in the
# same layer and in a later one, and through a hardlink). strata extract,
# as root and as nobody, of the whole image and of one path, must never
# write outside DEST: the victim stays empty, DEST's parent holds only
# DEST. Built with Python's tarfile, pushed with the harness's curl helpers.
set -euo pipefail
. "$(dirname "$0")/extract_lib.sh"
fsd_init
registry_start plain
nobody_init
VICTIM="$NOBODY_HOME/victim"
mkdir -p "$VICTIM" "$HARNESS_DIR/img" "$HARNESS_DIR/img2"
chmod 0777 "$VICTIM"
push_hostile() { # DIR TAG [dotdot]
	python3 "$(dirname "$0")/hostile_image.py" "$1" "$VICTIM" ${3:-}
	for f in layer0.tar.gz layer1.tar.gz config.json; do
		registry_push_blob ex/hostile "$1/$f" >/dev/null
	done
	registry_push_manifest ex/hostile "$2" "$1/manifest.json" \
		application/vnd.oci.image.manifest.v1+json >/dev/null
}
push_hostile "$HARNESS_DIR/img" v1
push_hostile "$HARNESS_DIR/img2" dotdot dotdot
REF="$REGISTRY/ex/hostile:v1"

escaped() { # BOX: what is outside BOX/dest, in BOX and in the victim
	find "$VICTIM" "$1" -mindepth 1 -maxdepth 1 ! -path "$1/dest"
	find / -xdev -maxdepth 1 -name 'escape*' 2>/dev/null
}

check() { # WHO DESC CMD...
	local who=$1 desc=$2 box rc=0
	shift 2
	box=$(mktemp -d "$NOBODY_HOME/box.XXXXXX")
	chmod 0777 "$box"
	if [ "$who" = nobody ]; then
		as_nobody "$STRATA" extract "$@" "$box/dest" --insecure --cache "$NOBODY_HOME/cache" \
			2>"$HARNESS_DIR/err" || rc=$?
	else
		"$STRATA" extract "$@" "$box/dest" --insecure --cache "$FSD_CACHE" 2>"$HARNESS_DIR/err" || rc=$?
	fi
	if [[ "$rc" =~ ^(${RC:-0})$ ]]; then # RC: the exit codes allowed, "0|1"
		tap_pass "$desc: exit $rc"
	else
		tap_fail "$desc: exit $rc (want ${RC:-0})" "$(cat "$HARNESS_DIR/err")"
	fi
	tap_is "$(escaped "$box")" "" "$desc: nothing written outside DEST"
	tap_diag "$(find "$box/dest" -printf '%y %P%l\n' 2>/dev/null | sort | tr '\n' ' ')"
}

check root "root, whole image" "$REF"
check nobody "nobody, whole image" "$REF"
L0="$HARNESS_DIR/img/layer0.tar.gz"
check root "root, the first layer as a LAYERFILE" "$L0"
box=$(mktemp -d "$NOBODY_HOME/box.XXXXXX")
rc=0
"$STRATA" extract "$REF" "$box/dest" a --insecure --cache "$FSD_CACHE" 2>"$HARNESS_DIR/err" || rc=$?
tap_is "$rc" 0 "root, PATH a (planted as a symlink to the victim): exit 0"
tap_is "$(escaped "$box")" "" "root, PATH a: nothing written outside DEST"
# the tree never holds a symlink under a name it writes below (the merge
# turns "a" into a dir), so plant them in DEST itself, as an earlier
# extraction of another image would have: the writer must not follow them
box=$(mktemp -d "$NOBODY_HOME/box.XXXXXX")
mkdir "$box/dest"
for n in a b c d s u v h; do ln -s "$VICTIM" "$box/dest/$n"; done
rc=0
"$STRATA" extract "$REF" "$box/dest" --insecure --cache "$FSD_CACHE" 2>"$HARNESS_DIR/err" || rc=$?
tap_is "$rc" 0 "root, over symlinks planted in DEST: exit 0"
tap_is "$(escaped "$box")" "" "root, over symlinks planted in DEST: nothing written through them"
"$STRATA" extract "$REF" "$HARNESS_DIR/fresh" --insecure --cache "$FSD_CACHE" 2>/dev/null
tap_ok "... each was replaced by what the image has there (the same tree as into an empty DEST)" \
	cmp -s <(tree_dump "$HARNESS_DIR/fresh") <(tree_dump "$box/dest")
# a "../" name is refused by the index or resolved inside the layer
# (docs/tar.md: containerd's rules): either way, not out
RC="0|1" check root "a layer with a '../' name" "$REGISTRY/ex/hostile:dotdot"
tap_is "$(ls -A "$VICTIM")" "" "the victim dir is still empty"
tap_done
