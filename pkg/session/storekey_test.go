package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoreKeyIsHMAC pins the hand-written HMAC to crypto/hmac.
func TestStoreKeyIsHMAC(t *testing.T) {
	for range 20 {
		tk, err := NewTicket()
		require.NoError(t, err)
		m := hmac.New(sha256.New, tk.key[:])
		m.Write(tk.id[:])
		require.Equal(t, sessionPrefix+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), tk.storeKey())
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = Ticket{}.storeKey() })-1, "one allocation: the string")
}
