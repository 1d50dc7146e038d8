package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/authbridge/authbridge/pkg/config"
)

// afterLogin is where each login returns to; the login client stops there.
const afterLogin = "/bench-after-login"

// loginParallel bounds the logins in flight, so that start-up does not overload the provider.
const loginParallel = 8

// login logs n browsers in through base's /oauth2/start and the development provider's auto-login, and
// returns each one's session cookie as a Cookie header value ("name=value").
func login(ctx context.Context, base string, n int, cookieName string) ([]string, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: loginParallel}
	defer tr.CloseIdleConnections()
	cookies := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loginParallel)
	for i := range n {
		g.Go(func() error {
			c, err := loginOnce(gctx, tr, base, cookieName)
			cookies[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return cookies, nil
}

// loginOnce follows the whole browser flow with a fresh cookie jar: /oauth2/start → the provider's
// /authorize (auto-login) → /oauth2/callback → the return-to URL.
func loginOnce(ctx context.Context, tr http.RoundTripper, base, cookieName string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	client := &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Path == afterLogin {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth2/start?rd="+url.QueryEscape(afterLogin), nil)
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasSuffix(resp.Header.Get("Location"), afterLogin) {
		return "", fmt.Errorf("log in: %s answered %d instead of sending the browser back", resp.Request.URL.Path, resp.StatusCode)
	}
	u, _ := url.Parse(base) // a request was just made to it
	for _, ck := range jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("log in: no %s cookie after the callback", cookieName)
}

// cookieName is authbridge's session cookie name under the bench's configuration (secure false, no
// domain), unless --env sets one.
func cookieName(env []string) string {
	name := config.PlainCookieName
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AUTHBRIDGE_SESSION_COOKIE_NAME="); ok {
			name = v
		}
	}
	return name
}
