// Package leaktest collects the secrets a test has seen (tokens, cookie values, session ids, client
// secrets, e-mail addresses) and fails the test when any of them turns up in text that must never hold
// one: log lines, span attributes, metric labels.
package leaktest

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
)

// minLen is the shortest value worth looking for: shorter ones would match by chance.
const minLen = 8

// Secrets is a set of named secret values, safe for concurrent use.
type Secrets struct {
	mu sync.Mutex
	m  map[string]string // value → name
}

// Add records value under name; values shorter than 8 bytes are ignored.
func (s *Secrets) Add(name, value string) {
	if len(value) < minLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	if _, ok := s.m[value]; !ok {
		s.m[value] = name
	}
}

// AddSessionCookie records a session cookie value and the session id inside it (the first 32 bytes of
// the base64url ticket), in base64url and hex, so that a log of the raw id is caught too.
func (s *Secrets) AddSessionCookie(name, value string) {
	s.Add(name, value)
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 32 {
		return
	}
	s.Add(name+" session id", base64.RawURLEncoding.EncodeToString(raw[:32])[:40])
	s.Add(name+" session id (hex)", hex.EncodeToString(raw[:32]))
}

// Len is how many values are recorded.
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Find returns the names of the secrets that text contains.
func (s *Secrets) Find(text string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for v, name := range s.m {
		if strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	return found
}

// Check fails t for every line of text that holds a secret, naming the secret and where (never
// printing the value).
func (s *Secrets) Check(t testing.TB, where, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if names := s.Find(line); len(names) > 0 {
			t.Errorf("%s line %d holds a secret: %s", where, i+1, strings.Join(names, ", "))
		}
	}
}
