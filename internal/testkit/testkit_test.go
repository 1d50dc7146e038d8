package testkit_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/testkit"
)

func TestFreePortsNeverHandOutAPortTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		ps, err := testkit.FreePorts(3)
		require.NoError(t, err)
		for _, p := range ps {
			require.False(t, seen[p], "port %d handed out twice", p)
			seen[p] = true
		}
	}
}

func TestProcess(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	tests := []struct {
		name  string
		argv  []string
		act   func(p *testkit.Process)
		ready func() error
		want  string // in WaitReady's error; "" for success
	}{
		{"ready", []string{"sh", "-c", "echo up; sleep 60"}, (*testkit.Process).Stop, func() error { return nil }, ""},
		{"exits before ready", []string{"sh", "-c", "echo bye"}, nil, func() error { return errors.New("not yet") }, "exited before it was ready"},
		{"killed while stopped", []string{"sleep", "60"}, func(p *testkit.Process) {
			require.NoError(t, p.Signal(syscall.SIGSTOP))
			p.Kill()
		}, func() error { return nil }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := testkit.Start(tc.name, dir, env, tc.argv...)
			require.NoError(t, err)
			t.Cleanup(p.Kill)
			err = p.WaitReady(tc.ready)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				require.ErrorContains(t, err, tc.name+" log:", "the error shows the log")
				return
			}
			require.NoError(t, err)
			tc.act(p)
			require.True(t, p.Exited())
			require.Error(t, p.Signal(syscall.SIGCONT), "a signal to an exited process is an error")
		})
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testkit.NewClock(t0)
	c.Advance(time.Minute)
	require.Equal(t, t0.Add(time.Minute), c.Now())
	c.Advance(-2 * time.Minute)
	require.Equal(t, t0.Add(-time.Minute), c.Now())
	c.Set(t0)
	require.Equal(t, t0, c.Now())
}
