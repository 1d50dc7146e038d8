package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// rawHTTPTarget asks base+"/auth" like httpTarget, but writes pre-serialized HTTP/1.1 requests on one
// keep-alive connection per worker and parses just the status line and Content-Length: a loader as
// light as wrk, so that less of a shared machine goes to the loader.
func rawHTTPTarget(name, base string, pid int, cookies []string, c int) (target, func(), error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return target{}, nil, fmt.Errorf("--http-client raw needs an http:// base URL, got %q", base)
	}
	t := target{name: name, pid: pid}
	var conns []*rawConn
	for w := range c {
		var reqs [][]byte
		for _, ck := range sessionsOf(cookies, w, c) {
			reqs = append(reqs, []byte("GET "+u.Path+"/auth HTTP/1.1\r\nHost: "+u.Host+"\r\n"+
				"X-Forwarded-Method: GET\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: "+appHost+"\r\n"+
				"X-Forwarded-Uri: "+appURI+"\r\nX-Forwarded-For: "+clientIP+"\r\nAccept: application/json\r\n"+
				"User-Agent: authbridge-bench\r\nCookie: "+ck+"\r\n\r\n"))
		}
		rc := &rawConn{addr: u.Host}
		conns = append(conns, rc)
		i := 0
		t.workers = append(t.workers, func(ctx context.Context) error {
			req := reqs[i%len(reqs)]
			i++
			status, err := rc.do(ctx, req)
			if err != nil {
				return err
			}
			if status != 200 {
				return fmt.Errorf("/auth answered %d", status)
			}
			return nil
		})
	}
	return t, func() {
		for _, rc := range conns {
			rc.close()
		}
	}, nil
}

// rawConn is one worker's keep-alive connection, redialed after any error.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func (rc *rawConn) close() {
	if rc.c != nil {
		_ = rc.c.Close()
		rc.c = nil
	}
}

// do sends req and returns the response's status, having read and discarded the response.
func (rc *rawConn) do(ctx context.Context, req []byte) (int, error) {
	if rc.c == nil {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", rc.addr)
		if err != nil {
			return 0, err
		}
		rc.c, rc.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	status, keep, err := rc.roundTrip(req)
	if err != nil || !keep {
		rc.close()
	}
	return status, err
}

var errChunked = errors.New("response is chunked; the raw client reads only Content-Length bodies")

func (rc *rawConn) roundTrip(req []byte) (status int, keep bool, err error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, false, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("malformed status line")
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("malformed status line")
	}
	length, keep := 0, true
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		h := strings.TrimSpace(string(line))
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		switch v = strings.TrimSpace(v); {
		case strings.EqualFold(k, "Content-Length"):
			if length, err = strconv.Atoi(v); err != nil {
				return 0, false, fmt.Errorf("malformed Content-Length")
			}
		case strings.EqualFold(k, "Transfer-Encoding"):
			return 0, false, errChunked
		case strings.EqualFold(k, "Connection") && strings.EqualFold(v, "close"):
			keep = false
		}
	}
	if _, err := rc.r.Discard(length); err != nil {
		return 0, false, err
	}
	return status, keep, nil
}
