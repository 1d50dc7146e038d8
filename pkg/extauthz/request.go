package extauthz

import (
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/authbridge/authbridge/pkg/authz"
)

// incoming is the engine's request plus what the renderer needs from the original headers.
type incoming struct {
	authz.Request
	// identity are the client's headers, in its spelling, that some proxy or app trusts for identity,
	// other than the three an allowed answer overwrites: an allowed answer removes them. Collected in
	// the one pass over the headers that toRequest makes anyway.
	identity []string
	newID    bool // RequestID was generated here: the answer returns it to Envoy
}

// The headers toRequest reads, by index into fields.
const (
	fMethod        = iota // :method
	fAuthority            // :authority
	fHost                 // host (Envoy folds it into :authority; a second source if both come)
	fPath                 // :path
	fScheme               // :scheme
	fProto                // x-forwarded-proto
	fAccept               // accept
	fFetchMode            // sec-fetch-mode
	fFetchSite            // sec-fetch-site
	fOrigin               // origin
	fReferer              // referer
	fCookie               // cookie
	fAuthorization        // authorization
	fRequestID            // x-request-id
	fTraceParent          // traceparent
	fTraceState           // tracestate
	nFields
)

// fieldNames name the headers in refusals.
var fieldNames = [nFields]string{":method", ":authority", "host", ":path", ":scheme", "x-forwarded-proto", "accept",
	"sec-fetch-mode", "sec-fetch-site", "origin", "referer", "cookie", "authorization", "x-request-id", "traceparent", "tracestate"}

// fieldOf returns the index of a header toRequest reads, ASCII case aside (Envoy lower-cases keys, but
// its HTTP/1 codec may not for every source), or -1. No allocation.
func fieldOf(k string) int {
	i := -1
	switch len(k) { // most headers are ruled out by their length alone
	case 4:
		i = fHost
	case 5:
		i = fPath
	case 6:
		switch k[0] | 0x20 {
		case 'c':
			i = fCookie
		case 'o':
			i = fOrigin
		default:
			i = fAccept
		}
	case 7:
		switch {
		case k[0] != ':':
			i = fReferer
		case k[1]|0x20 == 's': // :scheme, not :method
			i = fScheme
		default:
			i = fMethod
		}
	case 10:
		i = fAuthority
		if k[0] != ':' {
			i = fTraceState
		}
	case 11:
		i = fTraceParent
	case 12:
		i = fRequestID
	case 13:
		i = fAuthorization
	case 14:
		i = fFetchMode
		if k[10]|0x20 == 's' { // sec-fetch-site, not sec-fetch-mode
			i = fFetchSite
		}
	case 17:
		i = fProto
	default:
		return -1
	}
	if k == fieldNames[i] || strings.EqualFold(k, fieldNames[i]) {
		return i
	}
	return -1
}

// fields is one lookup over both of Envoy's header encodings (headers, and header_map with value or
// raw_value): each header read once, and refused when it comes twice with different values.
type fields struct {
	v       [nFields]string
	seen    [nFields]bool
	dropped [nFields]bool // labels that came twice with different values (see set)
}

// set records one occurrence; a second occurrence that differs is a refusal naming the header (never
// its value, which for cookie holds the session and for authorization a token).
func (f *fields) set(i int, v string) error {
	if f.seen[i] && f.v[i] != v {
		if i >= fRequestID {
			// The request id and the trace context only label the decision (log, spans): two that differ
			// (W3C lets tracestate be split over several lines) are dropped, not refused — a new id is made
			// and the trace is not continued, which decides nothing.
			f.v[i], f.dropped[i] = "", true
			return nil
		}
		return authz.BadRequest(fieldNames[i] + " appears twice with different values")
	}
	if !f.dropped[i] {
		f.v[i] = v
	}
	f.seen[i] = true
	return nil
}

// toRequest adapts Envoy's attributes. Method, host and path come from the attributes and from the
// pseudo-headers, which must agree; the scheme from x-forwarded-proto (which Envoy sets, or keeps
// from trusted hops, and which reflects TLS in front of Envoy) or else the scheme attribute and
// :scheme. Every header it reads is read case-insensitively from both encodings, and the result must
// pass authz.CheckTarget. Any ambiguity is a *authz.RequestError.
func toRequest(req *authv3.CheckRequest) (*incoming, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return nil, errNoHTTP
	}
	in := &incoming{}
	var f fields
	for k, v := range h.GetHeaders() {
		if i := fieldOf(k); i >= 0 {
			if err := f.set(i, v); err != nil {
				return nil, err
			}
		} else if authz.IsIdentityHeader(k) && !overwritten(k) {
			in.identity = append(in.identity, k)
		}
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		i := fieldOf(hv.GetKey())
		if i < 0 {
			if k := hv.GetKey(); authz.IsIdentityHeader(k) && !overwritten(k) {
				in.identity = append(in.identity, k)
			}
			continue
		}
		v, raw := hv.GetValue(), hv.GetRawValue()
		switch {
		case v != "" && len(raw) > 0 && v != string(raw): // no allocation: compared in place
			return nil, authz.BadRequest(fieldNames[i] + " has a value and a raw_value that differ")
		case v == "" && len(raw) > 0:
			v = string(raw)
		}
		if err := f.set(i, v); err != nil {
			return nil, err
		}
	}
	var err error
	in.Front = authz.FrontExtAuthz
	if in.Method, err = agree(h.GetMethod(), f.v[fMethod], "method attribute and :method"); err != nil {
		return nil, err
	}
	if in.Host, err = agree(h.GetHost(), f.v[fAuthority], "host attribute and :authority"); err != nil {
		return nil, err
	}
	if in.Host, err = agree(in.Host, f.v[fHost], "host and :authority"); err != nil {
		return nil, err
	}
	if in.URI, err = agree(h.GetPath(), f.v[fPath], "path attribute and :path"); err != nil {
		return nil, err
	}
	if in.Scheme, err = scheme(h.GetScheme(), &f); err != nil {
		return nil, err
	}
	in.Accept, in.FetchMode, in.Cookie = f.v[fAccept], f.v[fFetchMode], f.v[fCookie]
	in.FetchSite, in.Origin, in.Referer = f.v[fFetchSite], f.v[fOrigin], f.v[fReferer]
	in.Authorization = f.v[fAuthorization]
	// Envoy's idea of the downstream address (it honours its own trusted-hops settings).
	in.Client = req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()
	in.Route = req.GetAttributes().GetContextExtensions()[ContextExtensionRoute]
	in.TraceParent, in.TraceState = f.v[fTraceParent], f.v[fTraceState]
	in.RequestID, in.newID = authz.RequestID(f.v[fRequestID])
	if err := authz.CheckTarget(&in.Request); err != nil {
		return nil, err
	}
	return in, nil
}

var (
	errNoHTTP       = authz.BadRequest("no http request attributes")
	errProtoInvalid = authz.BadRequest("x-forwarded-proto is not http or https")
	errSchemeSrc    = authz.BadRequest("scheme attribute and :scheme disagree")
)

// agree returns the value two sources give, either of which may be absent; both present and different
// is a refusal.
func agree(a, b, what string) (string, error) {
	switch {
	case a == "":
		return b, nil
	case b != "" && a != b:
		return "", authz.BadRequest(what + " disagree")
	}
	return a, nil
}

// scheme is x-forwarded-proto when present (one value, http or https; a list or anything else is
// refused, never used), else the scheme attribute and :scheme, which must agree.
func scheme(attr string, f *fields) (string, error) {
	if f.seen[fProto] && f.v[fProto] != "" {
		s, ok := authz.Scheme(f.v[fProto])
		if !ok {
			return "", errProtoInvalid
		}
		return s, nil
	}
	if attr != "" && f.v[fScheme] != "" && !strings.EqualFold(attr, f.v[fScheme]) {
		return "", errSchemeSrc
	}
	if attr == "" {
		attr = f.v[fScheme]
	}
	s, _ := authz.Scheme(attr) // "" when neither says http(s): CheckTarget refuses it
	return s, nil
}
