package authz

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// pathOf returns the path part of a request URI.
func pathOf(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		return uri[:i]
	}
	return uri
}

func query(uri string) url.Values {
	i := strings.IndexByte(uri, '?')
	if i < 0 {
		return url.Values{}
	}
	q, _ := url.ParseQuery(uri[i+1:])
	return q
}

func queryParam(uri, name string) string { return query(uri).Get(name) }

// singleParam reports whether the query of uri parses and holds name at most once.
func singleParam(uri, name string) bool {
	i := strings.IndexByte(uri, '?')
	if i < 0 {
		return true
	}
	q, err := url.ParseQuery(uri[i+1:])
	return err == nil && len(q[name]) <= 1
}

// origin is scheme://host of the request.
func origin(r *Request) string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// isNavigation reports whether the request is a browser navigating (which may be redirected to log in)
// rather than a script, API client or form post. Sec-Fetch-Mode, when the browser sends it, decides;
// otherwise a GET or HEAD whose Accept prefers text/html over JSON counts as navigation.
func isNavigation(r *Request) bool {
	if r.Method != "GET" && r.Method != "HEAD" {
		return false
	}
	if r.FetchMode != "" {
		return r.FetchMode == "navigate"
	}
	html, js := acceptQ(r.Accept, "text/html"), acceptQ(r.Accept, "application/json")
	return html > 0 && html >= js
}

// acceptQ returns the q value that an Accept header gives one exact media type (0 if absent).
func acceptQ(accept, mediaType string) float64 {
	for accept != "" {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		mt, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), mediaType) {
			continue
		}
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q
	}
	return 0
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
