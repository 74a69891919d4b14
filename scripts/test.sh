#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit, kernel (root) and
# end-to-end tests. Installs missing system packages first. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet
