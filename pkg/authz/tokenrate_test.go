package authz

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTokenRate: at most the rate in any second after a burst of up to the rate; a call that would wait
// longer than it may books nothing; idle time refills the burst but never beyond it.
func TestTokenRate(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type call struct {
		at      time.Duration // after t0
		maxWait time.Duration
		want    time.Duration // wait, or -1 when refused
	}
	tests := []struct {
		name  string
		rate  int
		calls []call
	}{
		{"a burst of the rate, then one per interval", 4, []call{
			{0, time.Hour, 0}, {0, time.Hour, 0}, {0, time.Hour, 0}, {0, time.Hour, 0},
			{0, time.Hour, 250 * time.Millisecond}, {0, time.Hour, 500 * time.Millisecond},
		}},
		{"refused when the wait is too long, and books nothing", 1, []call{
			{0, 0, 0}, {0, 999 * time.Millisecond, -1}, {0, time.Second, time.Second}, {0, time.Second, -1},
			{time.Second, time.Second, time.Second},
		}},
		{"idle time refills the burst, not more", 2, []call{
			{0, 0, 0}, {0, 0, 0}, {0, 0, -1},
			{time.Hour, 0, 0}, {time.Hour, 0, 0}, {time.Hour, 0, -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTokenRate(tt.rate)
			for i, c := range tt.calls {
				wait, ok := l.reserve(t0.Add(c.at), c.maxWait)
				if c.want < 0 {
					require.False(t, ok, "call %d", i)
					continue
				}
				require.True(t, ok, "call %d", i)
				require.Equal(t, c.want, wait, "call %d", i)
			}
		})
	}
	wait, ok := newTokenRate(0).reserve(t0, 0)
	require.True(t, ok, "0: no limit")
	require.Zero(t, wait)
}
