#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit, kernel (root) and
# end-to-end tests, then every fuzz target briefly from its seeds (a fixed
# libFuzzer seed, so a run repeats). Installs missing system packages
# first. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# No two parts of a crate import each other (see the script for the rules).
python3 scripts/module-cycles.py > /dev/null || python3 scripts/module-cycles.py
cargo test --workspace --quiet
FUZZ_SEED=1 ./scripts/fuzz.sh 10
