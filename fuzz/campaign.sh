#!/usr/bin/env bash
# A long fuzzing campaign (see docs/fuzzing.md): every target (or those named) for
# SECONDS each (default 3600), in libFuzzer's fork mode with JOBS worker processes, keeping
# going after crashes, timeouts and out-of-memory inputs (each is saved under
# fuzz/artifacts/<target>/). New coverage is merged into the tracked corpus fuzz/corpus/<target>
# as the campaign runs; commit it afterwards. A summary (executions, coverage, corpus size,
# crashes per target) goes to fuzz/campaign-logs/summary-<time>.md, one full log per target
# beside it.
#
# Usage: fuzz/campaign.sh [SECONDS] [TARGET...]
# Environment: JOBS (default: number of CPUs), NICE (default 10; the niceness of the
# fuzzers, so a shared machine stays usable), TIMEOUT (seconds one input may take, default 10),
# NO_BUILD=1 (use the binaries already in fuzz/target as they are).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-3600}"
shift || true
jobs="${JOBS:-$(nproc)}"
niceness="${NICE:-10}"
timeout="${TIMEOUT:-10}"
toolchain="+nightly"
rustup toolchain list 2>/dev/null | grep -q nightly || { toolchain=""; export RUSTC_BOOTSTRAP=1; }
# Build once, then run the binaries directly: `cargo fuzz run` would rebuild whenever a source
# file changes while the campaign runs, and the fuzzers would no longer match one commit.
[ "${NO_BUILD:-0}" = 1 ] || cargo $toolchain fuzz build
bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo $toolchain fuzz list)

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="campaign-logs"
mkdir -p "$logs"
summary="$logs/summary-$stamp.md"
{
    echo "# Fuzzing campaign $stamp"
    echo
    echo "${secs}s per target, $jobs job(s), nice $niceness, timeout ${timeout}s per input, $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "| target | executions | exec/s | coverage (edges) | features | corpus before -> after | new crashes | new timeouts | new OOMs |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---:|"
} >"$summary"

count() { find "$1" -maxdepth 1 -type f -name "$2" 2>/dev/null | wc -l; }

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    log="$logs/$target-$stamp.log"
    corpus_before=$(count "corpus/$target" '*')
    crashes_before=$(count "artifacts/$target" 'crash-*')
    timeouts_before=$(count "artifacts/$target" 'timeout-*')
    ooms_before=$(count "artifacts/$target" 'oom-*')
    echo "campaign: $target for ${secs}s ($jobs jobs), log $log"
    # Fork mode merges every job's new coverage into the first corpus directory.
    nice -n "$niceness" "$bin_dir/$target" "corpus/$target" "${seeds[@]}" \
        -artifact_prefix="artifacts/$target/" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -timeout="$timeout" -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || true
    # The last status line of fork mode: "#<execs>: cov: <edges> ft: <features> corp: ... exec/s: <n> ...".
    last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -n 1 || true)
    execs=$(sed -nE 's/^#([0-9]+): .*/\1/p' <<<"$last")
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    rate=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
    corpus_after=$(count "corpus/$target" '*')
    crashes=$(($(count "artifacts/$target" 'crash-*') - crashes_before))
    timeouts=$(($(count "artifacts/$target" 'timeout-*') - timeouts_before))
    ooms=$(($(count "artifacts/$target" 'oom-*') - ooms_before))
    echo "| $target | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $corpus_before -> $corpus_after | $crashes | $timeouts | $ooms |" >>"$summary"
done

{
    echo
    echo "Crash inputs are in fuzz/artifacts/<target>/; docs/fuzzing.md says how to turn one into a regression test."
} >>"$summary"
cat "$summary"
