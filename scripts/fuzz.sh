#!/usr/bin/env bash
# Runs every native Go fuzz target (func FuzzX in the packages that parse untrusted bytes) for
# FUZZTIME each (default 2s; `make fuzz` runs them longer). A crash stops the run; go test writes the
# failing input to the package's testdata/fuzz/FuzzX/, where it stays as a regression seed once the
# bug is fixed (commit it with the fix).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-2s}
pkgs=(./pkg/authz ./pkg/session ./pkg/forwardauth ./pkg/extauthz ./pkg/login ./pkg/config)
for p in "${pkgs[@]}"; do
  # Read from the sources: go test -list would link each test binary once more.
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$p"/*_test.go | cut -c6-); do
    echo "fuzz $p $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$p" >/dev/null || {
      go test -run "^${target}\$" "$p" # show the failing seed's output
      exit 1
    }
  done
done
