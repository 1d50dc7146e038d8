.PHONY: build test demo bench fuzz mutation faults
build:
	CGO_ENABLED=0 go build -trimpath -o bin/authbridge ./cmd/authbridge
test:
	./scripts/test.sh
demo:
	go run ./cmd/authbridge demo
bench:
	go run ./cmd/authbridge-bench --compare $(BENCHFLAGS)
# Every fuzz target for FUZZTIME each (default here 1m; the test suite runs them for 2s).
fuzz:
	FUZZTIME=$(or $(FUZZTIME),1m) ./scripts/fuzz.sh
# Mutation testing (go-gremlins, pinned in tools/mutation) of the packages that decide; PKGS narrows it.
mutation:
	./scripts/mutation.sh $(PKGS)
# Every fault-injection scenario at the durations docs/reliability.md names (the test suite runs short ones).
faults:
	go test -count=1 -timeout 120m -v -run '^TestFault' ./faults -faults.full
