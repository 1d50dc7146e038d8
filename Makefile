.PHONY: build test demo bench
build:
	CGO_ENABLED=0 go build -trimpath -o bin/authbridge ./cmd/authbridge
test:
	./scripts/test.sh
demo:
	go run ./cmd/authbridge demo
bench:
	go run ./cmd/authbridge-bench --compare $(BENCHFLAGS)
