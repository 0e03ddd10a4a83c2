#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# nectl: install what building and testing the tool needs (idempotent).
set -euo pipefail
. "$(dirname "$0")/../../tests/lib/common.sh"
ne_need_pkgs libkmod-dev libyaml-dev zlib1g-dev libssl-dev python3
