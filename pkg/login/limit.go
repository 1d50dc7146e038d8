package login

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Size caps on what the provider sends.
const (
	// MaxBodyBytes caps every body read from the provider: discovery document, JWKS and token responses.
	MaxBodyBytes = 1 << 20
	// MaxTokenBytes caps an ID token or a back-channel logout token.
	MaxTokenBytes = 16 << 10
)

// ErrTooLarge means the provider sent a body or a token over its size cap.
var ErrTooLarge = errors.New("login: provider answer too large")

// HTTPClient is a client for calls to a provider, each bounded by timeout, that trusts only roots when
// roots is set (a provider behind a private CA) and the system roots otherwise. Its transport is
// http.DefaultTransport's settings with its own connection pool.
func HTTPClient(timeout time.Duration, roots *x509.CertPool) *http.Client {
	if roots == nil {
		return &http.Client{Timeout: timeout}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: timeout, Transport: tr}
}

// CapClient returns a copy of c whose transport caps every response body at max bytes, so that every
// read from the provider goes through the cap: go-oidc reads discovery with io.ReadAll, and so do we.
// A body over the cap fails its read (or the request, when announced) with an error wrapping ErrTooLarge.
func CapClient(c *http.Client, max int64) *http.Client {
	return withTransport(c, func(next http.RoundTripper) http.RoundTripper { return &capTransport{next: next, max: max} })
}

// withTransport returns a copy of c whose transport is wrap of c's (or of the default transport).
func withTransport(c *http.Client, wrap func(next http.RoundTripper) http.RoundTripper) *http.Client {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp := *c
	cp.Transport = wrap(next)
	return &cp
}

// capTransport refuses a response that announces more than max bytes and fails the read of one that
// sends more than it announced (or announced nothing).
type capTransport struct {
	next http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t *capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, at most %d read", ErrTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &capBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

// capBody reads at most left bytes and fails with ErrTooLarge as soon as one more arrives.
type capBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte beyond the cap is enough to know it was exceeded
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, b.tooLarge()
	}
	return n, err
}

func (b *capBody) tooLarge() error { return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, b.max) }

func (b *capBody) Close() error { return b.rc.Close() }

// do sends req with client and reads the whole answer (through the client's cap, see CapClient): the
// one way every provider call here reads a body. err wraps ErrTooLarge for an oversized body; any
// other error means no complete answer arrived.
func do(client *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
