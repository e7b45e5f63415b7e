#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `bash fuzz/run.sh [seconds]`
# (60 s per target by default). Installs cargo-fuzz when missing, builds
# the targets once (into fuzz/target), then fuzzes each target in turn,
# printing its progress every 10 s. Exits non-zero when a target crashes
# (a panic, a timeout, out of memory), after printing the crashing input's
# path, its bytes in hex and the end of libFuzzer's log (the panic and
# its backtrace).
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them.
#
# Environment:
#   STRIDE_FUZZ_SANITIZER  address (default) | none. Measured here: none
#                          runs 4-6x more inputs per second and builds in
#                          5.5 min instead of 7 (one job); address also
#                          catches memory errors in the dependencies' unsafe
#                          code (Stride's request path has none of its own).
#   STRIDE_FUZZ_OPTIONS    more libFuzzer options, e.g. "-jobs=2 -max_len=8192".
#   STRIDE_FUZZ_VERBOSE=1  the targets print what became of each input
#                          (use it with a single input, see below).
#
# A crash reproduces with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# New corpus entries go to fuzz/corpus/<target> (not committed); the seeds
# are fuzz/seeds/<target> (committed, written by fuzz/seeds/generate.py).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
sanitizer="${STRIDE_FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export RUST_BACKTRACE=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The version these targets were written with.
CARGO_FUZZ_VERSION=0.13.2

say() { printf '[fuzz] %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi

started=$SECONDS
say "building the targets (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer"
say "built in $((SECONDS - started)) s"

targets=$(cargo fuzz list)
mkdir -p fuzz/logs
failed=()
for target in $targets; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/logs/$target.log"
  mkdir -p "$corpus" "$artifacts"
  # New inputs go to the first directory only; the seeds are read.
  dirs=("$corpus")
  [ -d "fuzz/seeds/$target" ] && dirs+=("fuzz/seeds/$target")
  options=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
  [ -f "fuzz/dicts/$target.dict" ] && options+=(-dict="fuzz/dicts/$target.dict")
  # shellcheck disable=SC2206 # split on purpose: one word per option
  options+=(${STRIDE_FUZZ_OPTIONS:-})
  stamp=$(mktemp)

  say "$target: ${seconds} s, corpus $corpus ($(find "$corpus" -type f | wc -l) inputs)"
  cargo fuzz run --sanitizer "$sanitizer" "$target" "${dirs[@]}" -- "${options[@]}" >"$log" 2>&1 &
  pid=$!
  ticks=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    ticks=$((ticks + 1))
    if [ $((ticks % 10)) -eq 0 ]; then
      line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
      [ -n "$line" ] && say "$target: $line"
    fi
  done
  status=0
  wait "$pid" || status=$?

  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    say "$target: FAILED (exit $status); from $log:"
    # The panic and its backtrace, then libFuzzer's summary.
    panic_line=$(grep -n -m 1 'panicked at' "$log" | cut -d: -f1 || true)
    if [ -n "$panic_line" ]; then
      sed -n "${panic_line},$((panic_line + 60))p" "$log" | sed 's/^/    /'
    fi
    grep -E '^(SUMMARY|==[0-9]+== ERROR): ' "$log" | sed 's/^/    /' || true
    summary_line=$(grep -n -m 1 '^Failing input:' "$log" | cut -d: -f1 || true)
    if [ -n "$summary_line" ]; then
      sed -n "${summary_line},\$p" "$log" | sed '/^Stack backtrace:/,$d' | sed 's/^/    /'
    else
      tail -n 30 "$log" | sed 's/^/    /'
    fi
    found=0
    while IFS= read -r input; do
      found=1
      say "$target: crashing input: $input"
      say "$target: as hex: $(od -An -tx1 -v "$input" | tr -d ' \n' | head -c 2000)"
      say "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $target $input"
    done < <(find "$artifacts" -type f -newer "$stamp")
    [ "$found" -eq 1 ] || say "$target: no crashing input was written (see the log above)"
  else
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" |
      sed "s/^/[fuzz] $target: /" || true
    line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    say "$target: passed: $line"
  fi
  rm -f "$stamp"
done

say "done in $((SECONDS - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  say "crashed: ${failed[*]}"
  exit 1
fi
