#!/usr/bin/env bash
# Minimize the tracked corpus of every target (or those named), like `cargo fuzz cmin`: keep
# only inputs that reach coverage no other input reaches (libFuzzer -merge=1 into an empty
# directory, then swap). Uses the binaries already built in fuzz/target (run `cargo fuzz build`
# first, or fuzz/run.sh / fuzz/campaign.sh, which build). Run it after a campaign, before
# committing fuzz/corpus.
# Usage: fuzz/cmin.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(find corpus -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
for target in "${targets[@]}"; do
    [ -x "$bin_dir/$target" ] || { echo "cmin: $target: no binary in $bin_dir (build first)"; exit 1; }
    fresh="$(mktemp -d "corpus/.$target.XXXXXX")"
    before=$(find "corpus/$target" -type f | wc -l)
    if "$bin_dir/$target" -merge=1 "$fresh" "corpus/$target" >/dev/null 2>&1; then
        rm -rf "corpus/$target"
        mv "$fresh" "corpus/$target"
        echo "cmin: $target: $before -> $(find "corpus/$target" -type f | wc -l) inputs, $(du -sh --apparent-size "corpus/$target" | cut -f1)"
    else
        rm -rf "$fresh"
        echo "cmin: $target: merge failed, corpus left as it was"
    fi
done
