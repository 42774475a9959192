#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every Debian 12 package stratafs needs to build, test and
# benchmark. Idempotent: a second run installs nothing new.
set -euo pipefail

PKGS=(
	# build
	build-essential meson ninja-build pkg-config clang lld llvm libclang-rt-14-dev
	libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libzstd-dev zlib1g-dev libjansson-dev
	# real peers used by the tests and the main job
	docker-registry skopeo umoci apache2-utils openssl ca-certificates curl
	podman buildah runc busybox-static
	containerd stargz-snapshotter
	python3 python3-jwt python3-cryptography python3-botocore python3-yaml python3-h2
	tar gzip zstd pigz attr jq xxd
	# benchmarks
	squashfuse squashfs-tools hyperfine
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]} (run as root)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian package starts a registry on :5000 through systemd; stratafs
# runs its own registries on free loopback ports and needs none of that.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
	systemctl stop docker-registry || true
	systemctl disable docker-registry >/dev/null 2>&1 || true
fi
