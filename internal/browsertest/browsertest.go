// Package browsertest drives Debian's headless Chromium with chromedp for the browser tests: one browser
// per test binary, a tab with its own cookie jar per flow, and failures that say where the page was.
package browsertest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Start starts one headless Chromium (profile in userDataDir) and returns its browser context and a stop
// function. The flags are those the project's machines need: --headless --no-sandbox --disable-gpu
// --disable-background-networking.
func Start(userDataDir string, width, height int) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(userDataDir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	stop := func() { cancelCtx(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// NewTab opens a width×height tab with its own cookie jar (a fresh browser context): cookies ignore
// ports, and every server in the tests is on 127.0.0.1. Every action in it must finish within timeout.
func NewTab(t *testing.T, browser context.Context, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	require.NoError(t, chromedp.Do(tab, chromedp.EmulateViewport(int64(width), int64(height))), "open tab")
	ctx, cancel := context.WithTimeout(tab, timeout)
	t.Cleanup(cancel)
	return ctx
}

// Do runs browser steps; on failure it reports where the browser was and what it showed.
func Do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		Fatal(t, ctx, err)
	}
}

// Val runs one browser action and returns its value.
func Val[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		Fatal(t, ctx, err)
	}
	return v
}

// Fatal ends the test with err, the page's location and its text, tokens and session cookies redacted.
func Fatal(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	// The tab's own context may be the one that ran out; look with a fresh deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("browser: %v\nat %s\n%s", err, loc, secretsOnPage.ReplaceAllString(text, "[redacted]"))
}

// secretsOnPage finds tokens and session cookies on a page (the echo upstreams show the headers they
// got), to keep them out of test output.
var secretsOnPage = regexp.MustCompile(`Bearer [A-Za-z0-9_\-.]+|authbridge(-login(-[A-Za-z0-9_\-]+)?)?=[^;\s"]+`)
