#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 20), starting from the checked-in seeds.
# Needs cargo-fuzz and a nightly toolchain (or RUSTC_BOOTSTRAP=1 with stable).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"
toolchain="+nightly"
rustup toolchain list 2>/dev/null | grep -q nightly || { toolchain=""; export RUSTC_BOOTSTRAP=1; }
cargo $toolchain fuzz build
for target in $(cargo $toolchain fuzz list); do
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    echo "fuzz: $target for ${secs}s"
    cargo $toolchain fuzz run "$target" "corpus/$target" "${seeds[@]}" -- -max_total_time="$secs" 2>&1 \
        | grep -E "^Done|ERROR|panicked|deadly" || true
    # A crash leaves an artifact and a non-zero exit, which grep swallows: check explicitly.
    if compgen -G "artifacts/$target/crash-*" >/dev/null || compgen -G "artifacts/$target/oom-*" >/dev/null; then
        echo "fuzz: $target found a crash: $(ls artifacts/$target)"; exit 1
    fi
done
