package sessiontest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/session"
)

// testIncr: counts start at one, concurrent increments are not lost, the window is fixed from the first
// increment (later ones do not extend it), a new window starts from one, and ttl <= 0 is refused.
func testIncr(t *testing.T, h Harness, s session.Store) {
	ctx := t.Context()
	n, err := s.Incr(ctx, "c", shortTTL(h))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var wg sync.WaitGroup
	for range 49 {
		wg.Go(func() {
			_, err := s.Incr(ctx, "c", longTTL) // a longer ttl on later increments changes nothing
			require.NoError(t, err)
		})
	}
	wg.Wait()
	n, err = s.Incr(ctx, "c", longTTL)
	require.NoError(t, err)
	require.EqualValues(t, 51, n, "no increment lost")
	require.NoError(t, s.Put(ctx, "marker", []byte("m"), shortTTL(h)))
	waitPast(t, h, s, "marker") // put after the first increment, so the counter's window is over too
	n, err = s.Incr(ctx, "c", longTTL)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "a new window after the first one ended")
	_, err = s.Incr(ctx, "d", 0)
	require.Error(t, err)
	_, err = s.Incr(ctx, "d", -time.Second)
	require.Error(t, err)
}
