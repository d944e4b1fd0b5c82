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
# NO_BUILD=1 (use the binaries already in fuzz/target as they are), BUDGET=cpu (SECONDS is
# CPU time, not wall-clock time: each target runs until its fuzzing processes have used that
# much CPU, however busy the machine is; the summary reports the CPU time either way).
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
    echo "${secs}s ($( [ "${BUDGET:-wall}" = cpu ] && echo "CPU time" || echo "wall-clock time")) per target, $jobs job(s), nice $niceness, timeout ${timeout}s per input, $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    echo "| target | CPU time (h:mm:ss) | executions | exec/s | coverage (edges) | features | corpus before -> after | new crashes | new timeouts | new OOMs |"
    echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"
} >"$summary"

count() { find "$1" -maxdepth 1 -type f -name "$2" 2>/dev/null | wc -l; }

ticks=$(getconf CLK_TCK)
# CPU seconds used by process group $1: every live member's own time plus that of the
# children it has reaped (fork mode's workers are reaped by the libFuzzer parent, so each
# CPU second is counted once: by the worker while it lives, by its parent after).
group_cpu() {
    local total=0 stat rest
    for stat in /proc/[0-9]*/stat; do
        # (a process may exit between the glob and the read: the group is put under 2>/dev/null,
        # since a redirection error is reported before a later 2>/dev/null on the same command)
        { read -r rest <"$stat"; } 2>/dev/null || continue
        rest="${rest##*) }"
        # shellcheck disable=SC2086
        set -- $rest
        # fields after "pid (comm) ": 1 state 2 ppid 3 pgrp ... 12 utime 13 stime 14 cutime 15 cstime
        [ "$3" = "$pgid" ] || continue
        total=$((total + ${12} + ${13} + ${14} + ${15}))
    done
    echo $((total / ticks))
}

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
    # Fork mode merges every job's new coverage into the first corpus directory. The fuzzer
    # runs in its own process group, whose CPU time is sampled every few seconds.
    wall_limit="$secs"
    [ "${BUDGET:-wall}" = cpu ] && wall_limit=$((secs * 20))
    setsid nice -n "$niceness" "$bin_dir/$target" "corpus/$target" "${seeds[@]}" \
        -artifact_prefix="artifacts/$target/" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -timeout="$timeout" -max_total_time="$wall_limit" -print_final_stats=1 >"$log" 2>&1 &
    pgid=$!
    # setsid also puts the fuzzer in a new scheduler autogroup (kernel.sched_autogroup_enabled),
    # where its nice value counts only against its own processes: the group as a whole would
    # share the CPU equally with everything else (it tripled the hostile tests' timings).
    # The group's own niceness fixes that. Only once the child is in its new group: right
    # after the fork it may still be in ours, and then this script, its caller and
    # everything they run (a CI run, a build) would get the fuzzer's niceness instead.
    mine="$(cut -d' ' -f1 /proc/$$/autogroup 2>/dev/null || true)"
    for _ in $(seq 100); do
        theirs="$(cut -d' ' -f1 "/proc/$pgid/autogroup" 2>/dev/null || true)"
        if [ -n "$theirs" ] && [ "$theirs" != "$mine" ]; then
            echo "$niceness" >"/proc/$pgid/autogroup" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    cpu=0
    while kill -0 "$pgid" 2>/dev/null; do
        sleep 5
        now_cpu=$(group_cpu)
        [ "$now_cpu" -gt "$cpu" ] && cpu=$now_cpu
        if [ "${BUDGET:-wall}" = cpu ] && [ "$cpu" -ge "$secs" ]; then
            kill -INT -- "-$pgid" 2>/dev/null || true
            sleep 5
            kill -KILL -- "-$pgid" 2>/dev/null || true
            break
        fi
    done
    wait "$pgid" 2>/dev/null || true
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
    echo "| $target | $(printf "%d:%02d:%02d" $((cpu / 3600)) $((cpu % 3600 / 60)) $((cpu % 60))) | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $corpus_before -> $corpus_after | $crashes | $timeouts | $ooms |" >>"$summary"
done

{
    echo
    echo "Crash inputs are in fuzz/artifacts/<target>/; docs/fuzzing.md says how to turn one into a regression test."
} >>"$summary"
cat "$summary"
