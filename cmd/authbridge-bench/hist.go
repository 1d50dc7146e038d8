package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits buckets per power of two, so a recorded latency is
// known to within 1/2^subBits (1.6 %).
const subBits = 6

// histogram counts latencies in nanoseconds in log-linear buckets (the HdrHistogram layout): values
// below 2^(subBits+1) exactly, larger ones with a relative error under 2^-subBits. It has a fixed size,
// so recording never allocates, and each worker owns one; merge them after the run.
type histogram struct {
	counts [64 << subBits]uint64
	total  uint64
}

func bucketOf(v uint64) int {
	l := bits.Len64(v)
	if l <= subBits+1 {
		return int(v)
	}
	shift := l - subBits - 1
	return shift<<subBits + int(v>>shift)
}

// bucketMid is the middle of bucket i's value range.
func bucketMid(i int) uint64 {
	if i < 2<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) | 1<<subBits)
	return m<<shift + (1<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.total++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the latency below which a fraction q of the recorded ones lie; 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0 // unreachable: the counts add up to total
}
