#!/usr/bin/env bash
# Fuzzes every parser that sees untrusted bytes (cargo fuzz, libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); every target when none is named (the
# list: crates/fuzz-harness/src/lib.rs). Each target starts from
# fuzz/seeds/<target>/ and fuzz/regressions/<target>/, keeps the inputs
# that found new coverage in fuzz/corpus/<target>/ (not committed), and
# stops at its first crash, leaving the reproducer in
# fuzz/artifacts/<target>/; the script then exits 1. Copy a fixed crash's
# reproducer into fuzz/regressions/<target>/: the ordinary test suite runs
# them all (crates/fuzz-harness/tests/corpus.rs).
#
# FUZZ_SEED=N fixes libFuzzer's random seed (the test suite's short run
# uses 1, so it repeats); unset, each run explores differently.
#
# The targets run in a private mount namespace whose / is read-only, with
# a private temporary directory (TMPDIR, a tmpfs on fuzz/tmp): an
# extraction bug the fuzzer finds cannot write into the machine. Needs root (for the namespace, and because the layer target
# makes device nodes and trusted xattrs as the daemon does).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
    echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "fuzz.sh: needs root (a private mount namespace for the targets)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

all=$(sed -n 's/^    ("\([a-z_]*\)", .*/\1/p' crates/fuzz-harness/src/lib.rs)
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
    read -r -a targets <<<"$(echo $all)"
fi
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$all"; then
        echo "fuzz.sh: no target '$t'; the targets: $(echo $all)" >&2
        exit 2
    fi
done

# Built outside the sandbox (cargo writes to ~/.cargo); run inside it.
# No sanitizer: the parsers are safe Rust (unsafe_code is denied), so
# libFuzzer's coverage and panics are what find bugs, at full speed.
(cd fuzz && cargo fuzz build --sanitizer none --release --debug-assertions 2>&1 | tail -n 3)
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release

failed=()
printf '%-16s %10s %8s %8s %8s  %s\n' target execs exec/s cov corpus result
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/regressions/$t"
    log=fuzz/artifacts/$t/last-run.log
    status=0
    # The private temporary directory is a tmpfs under fuzz/tmp, not on
    # /tmp: a checkout that lives under /tmp must stay in sight.
    mkdir -p fuzz/tmp
    unshare --mount --propagation private -- bash -c '
        set -e
        mount --bind "$1/fuzz" "$1/fuzz"
        mount -t tmpfs -o size=4g,mode=1777 fuzz-tmp "$1/fuzz/tmp"
        export TMPDIR="$1/fuzz/tmp"
        mount -o remount,bind,ro /
        # The daemon parses on tokio workers with 2 MiB stacks: so do the
        # targets, so deep recursion shows here as it would there.
        ulimit -s 2048
        shift
        exec "$@"' sandbox "$root" \
        "$bin/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t" \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=262144 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 \
        ${FUZZ_SEED:+-seed="$FUZZ_SEED"} >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$( (grep -ao 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [ "$status" = 0 ]; then
        result=ok
    else
        result="CRASH (exit $status): $(ls -t "fuzz/artifacts/$t" | grep -v last-run.log | head -n 1); log $log"
        failed+=("$t")
    fi
    printf '%-16s %10s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$corpus" "$result"
done
if [ ${#failed[@]} != 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
