#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the tests drive when they are missing (as root), then
# gofmt, go vet, and every test (unit, real redis-server, real browsers, real gateways) with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → Debian package
# gcc: the end-to-end tests build Ory Hydra (the real OIDC provider) with cgo for its SQLite store.
declare -A pkgs=([redis-server]=redis-server [nginx]=nginx [caddy]=caddy [chromium]=chromium [gcc]=gcc)
missing=()
for cmd in "${!pkgs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pkgs[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    # The packages' services are not needed (the tests start their own on free ports).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing test dependencies: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export PATH="$PATH:/usr/sbin"

command -v go >/dev/null 2>&1 || { echo "Go 1.26 or newer is needed: https://go.dev/dl/" >&2; exit 1; }

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
# The end-to-end tests run on their own, one at a time: they share one Ory Hydra (SQLite underneath) and
# one Chromium, and on a 2-core machine running them beside each other and beside the unit tests made
# Hydra stall for seconds. Alone and serial they take about 20 s.
go test -race -count=1 -timeout 20m $(go list ./... | grep -v -e '/e2e$' -e '/faults$') "$@"
# Every fuzz target for a couple of seconds past its seed corpus (about 50 s on an idle 2-core machine).
./scripts/fuzz.sh
# Ory Hydra and Traefik, which the end-to-end tests run, are built from their pinned tool modules (e2e/tools,
# e2e/traefik-tools) into ~/.cache/authbridge once per version: minutes each on a cold Go build cache, so
# here, side by side and outside the tests' timeout; a cached pair is found in a moment. A Traefik that does
# not build is reported (-v shows it, and what was built) and only its tests skip.
go test -race -count=1 -timeout 30m -v -run '^$' ./e2e -build-tools
go test -race -count=1 -timeout 15m -parallel 1 ./e2e "$@"
# The short fault-injection scenarios (docs/reliability.md) run alone as well: they measure decisions
# against a 150 ms store timeout while they break Redis and the provider, and a machine busy with other
# packages' tests would blur what they measure. About 3 minutes; `make faults` runs the full durations.
go test -race -count=1 -timeout 15m ./faults "$@"
