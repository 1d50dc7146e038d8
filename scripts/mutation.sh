#!/usr/bin/env bash
# Mutation testing of the packages that make security decisions, with go-gremlins (pinned in
# tools/mutation/go.mod, outside the main module). Each mutant runs only its own package's tests
# (Redis-backed tests included: redis-server must be on PATH), without the test cache.
#
#   ./scripts/mutation.sh                     # the five packages, smallest first
#   ./scripts/mutation.sh pkg/login           # one package
#   MUTATION_WORKERS=2 ./scripts/mutation.sh  # more parallel mutants (default 1: the machine is shared)
#
# Results (gremlins' JSON) land in $MUTATION_OUT (default .mutation/), one file per package.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

pkgs=("$@")
# Smallest first, so a slow machine shows the cheap figures early.
[ ${#pkgs[@]} -gt 0 ] || pkgs=(pkg/extauthz pkg/forwardauth pkg/login pkg/session pkg/authz)
out=${MUTATION_OUT:-.mutation}
mkdir -p "$out"

bin=$(mktemp -d)/gremlins
trap 'rm -rf "$(dirname "$bin")"' EXIT
go -C tools/mutation build -o "$bin" github.com/go-gremlins/gremlins/cmd/gremlins

# -count=1: a mutant's result never comes from the test cache.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1"
for p in "${pkgs[@]}"; do
  name=$(echo "$p" | tr / _)
  echo "== $p"
  # A coefficient of 6 on the measured test time: on a busy 2-core machine a healthy run can take
  # three times as long as the coverage run, and a timeout would count as neither killed nor lived.
  "$bin" unleash --invert-logical --workers "${MUTATION_WORKERS:-1}" --timeout-coefficient 6 \
    --output "$out/$name.json" --output-statuses lctr "./$p"
done
