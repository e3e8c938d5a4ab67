#!/usr/bin/env bash
# Runs every workload at 1/100 size on every default engine (well under a minute once built):
# what CI runs so the harness never rots. Extra arguments go to the harness.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --release --quiet -- --quick "$@"
