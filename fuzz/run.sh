#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 15; CI's budget is under 5 minutes for all),
# starting from the tracked corpus (fuzz/corpus/<target>) and the hand-made seeds
# (fuzz/seeds/<target>), then merge what the run found back into the tracked corpus: only
# inputs that reach coverage the corpus did not have (libFuzzer -merge=1), so the corpus grows
# slowly and the next run starts where this one ended. Commit fuzz/corpus afterwards.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz and a nightly toolchain (or RUSTC_BOOTSTRAP=1 with stable).
# SANITIZER: cargo fuzz's -s (default none here: CI's seconds find logic errors and panics, and
# AddressSanitizer's build took 10 min against 7 for none on 2 vCPUs and slows every run; the
# targets' code is safe Rust and the C libraries are not instrumented either way). The long
# campaigns (campaign.sh) keep AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-15}"
shift || true
sanitizer=(-s "${SANITIZER:-none}")
toolchain="+nightly"
rustup toolchain list 2>/dev/null | grep -q nightly || { toolchain=""; export RUSTC_BOOTSTRAP=1; }
cargo $toolchain fuzz build "${sanitizer[@]}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo $toolchain fuzz list)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    # artifacts/<target> must exist: on a fresh clone it does not, and `find` on a missing
    # directory fails the pipeline below (pipefail), which `set -e` turns into a silent exit.
    mkdir -p "corpus/$target" "$scratch/$target" "artifacts/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    # Artifacts left by earlier runs (a campaign keeps going after crashes) are not this run's.
    old_artifacts=$(find "artifacts/$target" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) 2>/dev/null | wc -l)
    echo "fuzz: $target for ${secs}s"
    # New inputs go to the first directory (scratch); the tracked corpus is only read here.
    cargo $toolchain fuzz run "${sanitizer[@]}" "$target" "$scratch/$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" 2>&1 | grep -E "^Done|ERROR|panicked|deadly" || true
    # A crash leaves an artifact and a non-zero exit, which grep swallows: check explicitly.
    new_artifacts=$(find "artifacts/$target" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) 2>/dev/null | wc -l)
    if [ "$new_artifacts" -gt "$old_artifacts" ]; then
        echo "fuzz: $target found a crash: $(ls -t "artifacts/$target" | head -n 1) (docs/fuzzing.md: from a crash to a regression test)"
        exit 1
    fi
    before=$(find "corpus/$target" -type f | wc -l)
    cargo $toolchain fuzz run "${sanitizer[@]}" "$target" "corpus/$target" "$scratch/$target" -- -merge=1 >/dev/null 2>&1 \
        || echo "fuzz: $target: merging into corpus/$target failed (corpus unchanged)"
    after=$(find "corpus/$target" -type f | wc -l)
    echo "fuzz: $target: corpus $before -> $after inputs"
done
