package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoryLimit: the soft limit is the floor while little is alive, and room for three times the live
// heap above it, never at or under what is alive (where the collector would run without pause).
func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		live  uint64
		other uint64
		want  int64
	}{
		{"nothing alive", 0, 0, gcLimitFloor},
		{"a gateway's few connections", 5 << 20, 6 << 20, gcLimitFloor},
		{"1,024 connections", 30 << 20, 20 << 20, 110 << 20},
		{"stacks alone above the floor", 1 << 20, 40 << 20, 43 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := memoryLimit(tt.live, tt.other)
			require.Equal(t, tt.want, got)
			require.Greater(t, got, int64(tt.live+tt.other))
		})
	}
}

// TestLimitFollowsLiveHeap: with more alive than the floor, the limit rises above it within an interval.
func TestLimitFollowsLiveHeap(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(gcLimitFloor)
	alive := make([]byte, 2*gcLimitFloor) // more than the floor, as many connections' buffers are
	for i := range alive {
		alive[i] = byte(i)
	}
	runtime.GC()
	done := make(chan struct{})
	defer func() { <-done }()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { followLiveHeap(ctx, 10*time.Millisecond); close(done) }()
	require.Eventually(t, func() bool { return debug.SetMemoryLimit(-1) >= 6*gcLimitFloor }, 5*time.Second, 10*time.Millisecond,
		"the limit is three times what is alive")
	runtime.KeepAlive(alive)
}
