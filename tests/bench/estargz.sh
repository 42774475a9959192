#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/estargz.sh [--full] [--runs N]: formats.sh for estargz alone (cold
# first byte of one file through it against pinned stratafs indexes of the
# same content; see formats.sh and README.md).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/formats.sh" --only estargz "$@"
