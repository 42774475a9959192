# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# eStargz fixtures made by the real tools: Debian's containerd 1.6 and
# stargz-snapshotter 0.12 (`ctr-remote image convert --estargz --oci`).
# Sourced after tests/harness/lib.sh, with a registry started.
#
#   ctrd_start             a private containerd (own root, state, socket and
#                          config under $HARNESS_DIR, no CRI plugin), killed
#                          at exit; sets CTRD_ADDR
#   ctr_remote ARGS...     ctr-remote against it (any registry variant: plain
#                          HTTP, or TLS through a hosts.toml with the
#                          variant's CA, plus --user when it has credentials)
#   esgz_tree_base DIR, esgz_tree_top DIR   the fixture trees (below)
#   esgz_fixture_push REPO:TAG [CHUNK]      build the two-layer source image
#                          with umoci, push it with skopeo to
#                          $REGISTRY/src-REPO:TAG, pull it into containerd,
#                          convert it to eStargz (chunk size CHUNK, default
#                          64 KiB: a 3 MiB file is 48 chunks), push it with
#                          ctr-remote to $REGISTRY/REPO:TAG; sets ESGZ_SRC
#                          (the source layout:tag for umoci unpack)
#
# Base layer: 300 small files in 3 dirs, a 3 MiB random file, a 200 KiB text
# file, empty files, a 0700 dir, a fifo, a char device (1:3), a file owned
# by 1234:5678, and under m/ the "multi" fixture's base tree: relative,
# absolute and dangling symlinks, a group of three hardlinks, setuid and
# 0600 files, names of 120 and 200 chars and a path over 255, user.* xattrs
# (text and binary) on a file and a dir, a 1.5 MiB file. Top layer: a
# whiteout of a file, an opaque dir, a modified file.

ctrd_start() {
	local d="$HARNESS_DIR/containerd" i
	mkdir -p "$d"
	cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/ctrd.sock"
[ttrpc]
  address = "$d/ctrd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
	CTRD_ADDR="$d/ctrd.sock"
	containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
	CTRD_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $CTRD_PID"
	for i in $(seq 1 100); do
		if ctr --address "$CTRD_ADDR" version >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$d/containerd.log" >&2
	harness_fail "containerd did not start"
}

ctr_remote() {
	ctr-remote --address "$CTRD_ADDR" "$@"
}

# What ctr-remote needs to reach the current registry variant.
_esgz_ctr_reg_opts() {
	CTR_REG_OPTS=()
	local h="$HARNESS_DIR/containerd/hosts"
	case "$REGISTRY_URL" in
	http://*) CTR_REG_OPTS+=(--plain-http) ;;
	*)
		# containerd talks plain HTTP to 127.0.0.1 unless a hosts.toml says otherwise
		mkdir -p "$h/$REGISTRY"
		printf 'server = "%s"\n[host."%s"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "%s"\n' \
			"$REGISTRY_URL" "$REGISTRY_URL" "$REGISTRY_CA" >"$h/$REGISTRY/hosts.toml"
		CTR_REG_OPTS+=(--hosts-dir "$h")
		;;
	esac
	if [ -n "${REGISTRY_USER:-}" ]; then
		CTR_REG_OPTS+=(--user "$REGISTRY_USER:$REGISTRY_PASS")
	fi
}

esgz_tree_base() { # DIR
	local d=$1 i
	# links, xattrs, long names and paths, odd modes, a 1.5 MiB file: as
	# the "multi" fixture's base (lib_fixtures.sh), under m/
	_fx_tree_multi_base "$d/m"
	mkdir -p "$d/small/a" "$d/small/b" "$d/small/c" "$d/big" "$d/private" "$d/dev" "$d/opq/old"
	for i in $(seq 1 100); do
		echo "small a $i" >"$d/small/a/f$i.txt"
		echo "small b $i $i" >"$d/small/b/f$i.txt"
		printf 'small c %s\n%s\n' "$i" "$(seq 1 "$i")" >"$d/small/c/f$i.txt"
	done
	_fx_rand esgz-big 3145728 >"$d/big/three-mib.bin"
	_fx_text 4000 >"$d/big/text.txt"
	: >"$d/small/empty1"
	: >"$d/small/a/empty2"
	echo "private" >"$d/private/secret"
	chmod 0700 "$d/private"
	chmod 0600 "$d/private/secret"
	echo owned >"$d/small/owned"
	chown 1234:5678 "$d/small/owned"
	mkfifo "$d/dev/fifo"
	mknod "$d/dev/null" c 1 3
	echo old >"$d/opq/old/file"
	echo "gone soon" >"$d/small/gone.txt"
}

esgz_tree_top() { # DIR: the files of the second layer
	mkdir -p "$1/newopq"
	echo "new in an opaque dir" >"$1/newopq/new"
	echo "small a 1, modified" >"$1/f1.txt"
}

# _esgz_source LAYOUT: the two-layer source image (tag "src")
_esgz_source() {
	local l=$1 t=$1.tree
	rm -rf "$l" "$t"
	esgz_tree_base "$t/base"
	esgz_tree_top "$t/top"
	umoci init --layout "$l" >/dev/null
	umoci new --image "$l:src" >/dev/null
	umoci insert --image "$l:src" "$t/base" / >/dev/null
	umoci insert --image "$l:src" --whiteout /small/gone.txt >/dev/null
	umoci insert --image "$l:src" --opaque "$t/top/newopq" /opq >/dev/null
	umoci insert --image "$l:src" "$t/top/f1.txt" /small/a/f1.txt >/dev/null
	rm -rf "$t"
}

esgz_fixture_push() { # REPO:TAG [CHUNK]
	local dest=$1 chunk=${2:-65536} l="$HARNESS_DIR/esgz-src" src
	_esgz_source "$l" || harness_fail "cannot build the eStargz source image"
	ESGZ_SRC="$l:src"
	src="$REGISTRY/src-${dest%:*}:${dest##*:}"
	skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$l:src" "docker://$src" ||
		harness_fail "cannot push the eStargz source image"
	[ -n "${CTRD_ADDR:-}" ] || ctrd_start
	_esgz_ctr_reg_opts
	ctr_remote images pull --snapshotter native "${CTR_REG_OPTS[@]}" "$src" >"$HARNESS_DIR/ctr-pull.log" 2>&1 ||
		{ cat "$HARNESS_DIR/ctr-pull.log" >&2; harness_fail "ctr-remote pull $src failed"; }
	ctr_remote images convert --estargz --oci --estargz-chunk-size "$chunk" \
		"$src" "$REGISTRY/$dest" >"$HARNESS_DIR/ctr-convert.log" 2>&1 ||
		{ cat "$HARNESS_DIR/ctr-convert.log" >&2; harness_fail "ctr-remote convert failed"; }
	ctr_remote images push "${CTR_REG_OPTS[@]}" "$REGISTRY/$dest" >"$HARNESS_DIR/ctr-push.log" 2>&1 ||
		{ cat "$HARNESS_DIR/ctr-push.log" >&2; harness_fail "ctr-remote push $dest failed"; }
}
