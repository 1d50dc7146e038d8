// Package faults is the fault-injection suite: it runs authbridge replicas built from the tree against a
// real redis-server and an in-process development provider, drives a mixed load through the gRPC and
// forward-auth fronts while it breaks something on purpose, and counts what a user of an auth gateway
// cares about: requests wrongly allowed, sessions lost, 5xx answers, latency, memory and goroutines.
// It holds only tests; docs/reliability.md lists the scenarios and their measured figures.
package faults
