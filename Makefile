.PHONY: build test demo bench faults
build:
	CGO_ENABLED=0 go build -trimpath -o bin/authbridge ./cmd/authbridge
test:
	./scripts/test.sh
demo:
	go run ./cmd/authbridge demo
bench:
	go run ./cmd/authbridge-bench --compare $(BENCHFLAGS)
faults:
	go test -count=1 -timeout 120m -v -run '^TestFault' ./faults -faults.full
