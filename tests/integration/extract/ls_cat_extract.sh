#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata ls/cat/extract REF without FUSE, on the "multi" fixture (whiteouts,
# an opaque dir, hardlinks, symlinks, xattrs, long names, setuid) against
# `umoci unpack` of the same image: `ls -l -R` lists what umoci wrote, cat
# prints every file's bytes, extract writes the same tree (tree_dump: types,
# modes, owners, mtimes, sizes, link targets, hardlinks, xattrs, content),
# also of named subtrees; a path outside the image fails with exit 1.
set -euo pipefail
. "$(dirname "$0")/extract_lib.sh"
fsd_init
registry_start plain
fixture_push multi ex/multi:v1
REF="$REGISTRY/ex/multi:v1"
WANT="$HARNESS_DIR/ref"
umoci_unpack "$(fixture_ref multi)" "$WANT"
C=(--cache "$FSD_CACHE")

# ---- ls ----
ls_dump "$WANT/rootfs" | ls_norm >"$HARNESS_DIR/ls.want"
if strata_run ls -l -R "$REF" "${C[@]}" >"$HARNESS_DIR/ls.raw"; then
	ls_norm <"$HARNESS_DIR/ls.raw" >"$HARNESS_DIR/ls.got"
	if diff -u "$HARNESS_DIR/ls.want" "$HARNESS_DIR/ls.got" >"$HARNESS_DIR/ls.diff"; then
		tap_pass "ls -l -R REF lists what umoci unpack wrote ($(wc -l <"$HARNESS_DIR/ls.want") paths)"
	else
		tap_fail "ls -l -R REF lists what umoci unpack wrote" "$(head -c 3000 "$HARNESS_DIR/ls.diff")"
	fi
else
	tap_fail "ls -l -R REF" "$(cat "$STRATA_ERR")"
fi
tap_is "$(strata_run ls "$REF" keep "${C[@]}" | tr '\n' ' ')" "a.txt b.txt " "ls REF PATH lists one dir"
tap_not "no whiteout or removed path is listed" grep -qE '\.wh\.|gone|opq/old' "$HARNESS_DIR/ls.raw"

# ---- cat ----
bad=""
n=0
while IFS= read -r -d '' f; do
	p=${f#"$WANT/rootfs/"}
	n=$((n + 1))
	if ! cmp -s <(strata_run cat "$REF" "$p" "${C[@]}") "$f"; then
		bad+="$p "
	fi
done < <(find "$WANT/rootfs" -type f -print0)
tap_is "$bad" "" "cat REF PATH prints the bytes umoci wrote, for each of $n files"
tap_is "$(strata_run cat "$REF" links/sym "${C[@]}")" "hardlink target" "cat follows a final symlink inside the image"
rc=0
strata_run cat "$REF" gone.txt "${C[@]}" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "cat of a whited-out file fails with exit 1"

# ---- extract ----
OUT="$HARNESS_DIR/out"
tree_dump "$WANT/rootfs" >"$HARNESS_DIR/tree.want"
if strata_run extract "$REF" "$OUT" "${C[@]}"; then
	tree_dump "$OUT" >"$HARNESS_DIR/tree.got"
	if diff -u "$HARNESS_DIR/tree.want" "$HARNESS_DIR/tree.got" >"$HARNESS_DIR/tree.diff"; then
		tap_pass "extract REF DEST equals umoci unpack ($(wc -l <"$HARNESS_DIR/tree.want") paths)"
	else
		tap_fail "extract REF DEST equals umoci unpack" "$(head -c 3000 "$HARNESS_DIR/tree.diff")"
	fi
else
	tap_fail "extract REF DEST" "$(cat "$STRATA_ERR")"
fi

# again over the result: names are replaced, the tree stays the same
if strata_run extract "$REF" "$OUT" "${C[@]}" && tree_dump "$OUT" | cmp -s - "$HARNESS_DIR/tree.want"; then
	tap_pass "extract over an earlier extraction gives the same tree"
else
	tap_fail "extract over an earlier extraction gives the same tree"
fi

SUB="$HARNESS_DIR/sub"
if strata_run extract "$REF" "$SUB" keep big links/hard2.txt "${C[@]}"; then
	ok=1
	for d in keep big; do
		cmp -s <(tree_dump "$WANT/rootfs/$d") <(tree_dump "$SUB/$d") || ok=0
	done
	tap_is "$ok" 1 "extract REF DEST keep big: each subtree equals umoci's"
	tap_is "$(find "$SUB" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')" \
		"big keep links " "only the named subtrees (and their parents) are written"
	tap_is "$(cat "$SUB/links/hard2.txt")" "hardlink target" "a single hardlinked file is written with its content"
else
	tap_fail "extract REF DEST keep big" "$(cat "$STRATA_ERR")"
fi

rc=0
strata_run extract "$REF" "$HARNESS_DIR/none" keep no/such/path "${C[@]}" 2>/dev/null || rc=$?
tap_is "$rc" 1 "a path outside the image: exit 1"
tap_ok "... with a message naming it" grep -q "no/such/path" "$STRATA_ERR"
tap_not "... and nothing written" test -e "$HARNESS_DIR/none/keep"
rc=0
strata_run extract "$REF" "$HARNESS_DIR/none" gonedir "${C[@]}" 2>/dev/null || rc=$?
tap_is "$rc" 1 "a whited-out dir is outside the image: exit 1"
rc=0
strata_run extract "$REF" "$HARNESS_DIR/none" links/sym/x "${C[@]}" 2>/dev/null || rc=$?
tap_is "$rc" 1 "a path through one of the image's symlinks is not followed: exit 1"

# ---- trust: the same policy as the daemon ----
rc=0
strata_run ls "$REF" --unpinned sometimes "${C[@]}" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "--unpinned takes tag, never or always (usage error otherwise)"
tap_ok "ls with --unpinned never" strata_run ls "$REF" --unpinned never "${C[@]}"

# ---- a layer file still works ----
L=$(fixture_ref multi)
LAYOUT=${L%:*}
M=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "multi") | .digest' "$LAYOUT/index.json")
L0=$(jq -r '.layers[0].digest' "$LAYOUT/blobs/sha256/${M#sha256:}")
tap_is "$("$STRATA" cat "$LAYOUT/blobs/sha256/${L0#sha256:}" keep/a.txt)" "a v1" "cat LAYERFILE PATH: the layer alone"
tap_done
