// Package extauthz is the Envoy ext_authz v3 gRPC front: CheckRequest in, authz.Decision out as a
// CheckResponse.
package extauthz

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authbridge/authbridge/pkg/authz"
)

// Server answers envoy.service.auth.v3.Authorization/Check. Every outcome, including a malformed
// request and an engine that cannot decide, is a CheckResponse that denies: a gRPC error would let
// Envoy's failure_mode_allow turn it into an allow.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	engine *authz.Engine
	log    *slog.Logger
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// New returns a Server that asks engine. log may be nil.
func New(engine *authz.Engine, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{engine: engine, log: log}
}

// Check decides one request Envoy asks about.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	in, ok := toRequest(req)
	if !ok {
		s.log.Warn("malformed CheckRequest: no http request attributes")
		return denied(codes.InvalidArgument, http.StatusBadRequest, nil, "Bad Request\n"), nil
	}
	d, err := s.engine.Decide(ctx, &in.Request)
	if err != nil {
		resp := Unavailable()
		if authz.IsOAuth2Path(in.URI) {
			// The engine puts these in the decisions it makes; this answer is the front's own.
			dr := resp.GetDeniedResponse()
			dr.Headers = append(dr.Headers, header("referrer-policy", "no-referrer", overwrite),
				header("x-content-type-options", "nosniff", overwrite))
		}
		return resp, nil
	}
	return s.render(in, d), nil
}

// Unavailable is the answer to a Check that could not be decided: an in-band denial with status
// UNAVAILABLE and a 503, never a gRPC error, so that failure_mode_allow cannot turn it into an allow.
func Unavailable() *authv3.CheckResponse {
	return denied(codes.Unavailable, http.StatusServiceUnavailable,
		[]*corev3.HeaderValueOption{header("cache-control", "no-store", overwrite)},
		"authentication is temporarily unavailable\n")
}

// Fallback answers a call whose handler ended without an answer (a recovered panic, see
// recovery.Fallback): Check gets Unavailable, in band; any other method (health) a codes.Unavailable
// error.
func Fallback(fullMethod string) (any, error) {
	if fullMethod == authv3.Authorization_Check_FullMethodName {
		return Unavailable(), nil
	}
	return nil, status.Error(codes.Unavailable, "temporarily unavailable")
}

// incoming is the engine's request plus what the renderer needs from the original headers.
type incoming struct {
	authz.Request
	http *authv3.AttributeContext_HttpRequest // the original request, for its headers
}

// toRequest adapts Envoy's attributes. Envoy lower-cases header keys, sends the request target with its
// query in path, and merges repeated headers (cookies with "; ").
func toRequest(req *authv3.CheckRequest) (*incoming, bool) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return nil, false
	}
	in := &incoming{http: h}
	get := func(k string) string {
		if v, ok := h.GetHeaders()[k]; ok {
			return v
		}
		for _, hv := range h.GetHeaderMap().GetHeaders() {
			if hv.GetKey() == k {
				if hv.GetValue() != "" {
					return hv.GetValue()
				}
				return string(hv.GetRawValue())
			}
		}
		return ""
	}
	in.Front = authz.FrontExtAuthz
	in.Method = h.GetMethod()
	if in.Method == "" {
		in.Method = get(":method")
	}
	in.Host = h.GetHost()
	if in.Host == "" {
		in.Host = get(":authority")
	}
	in.URI = h.GetPath()
	if in.URI == "" {
		in.URI = get(":path")
	}
	// Envoy sets x-forwarded-proto itself (trusting it only from trusted hops); it reflects a TLS
	// terminator in front of Envoy, which the scheme attribute does not.
	in.Scheme = get("x-forwarded-proto")
	if in.Scheme == "" {
		in.Scheme = h.GetScheme()
	}
	in.Accept = get("accept")
	in.FetchMode = get("sec-fetch-mode")
	in.FetchSite, in.Origin, in.Referer = get("sec-fetch-site"), get("origin"), get("referer")
	in.Cookie = get("cookie")
	// Envoy's idea of the downstream address (it honours its own trusted-hops settings).
	in.Client = req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()
	if in.Method == "" || in.Host == "" || !strings.HasPrefix(in.URI, "/") {
		return nil, false
	}
	return in, true
}

// headers yields the original request's headers (lower-case keys), from either of Envoy's encodings.
func (in *incoming) headers(yield func(k, v string) bool) {
	for k, v := range in.http.GetHeaders() {
		if !yield(k, v) {
			return
		}
	}
	for _, hv := range in.http.GetHeaderMap().GetHeaders() {
		v := hv.GetValue()
		if v == "" {
			v = string(hv.GetRawValue())
		}
		if !yield(hv.GetKey(), v) {
			return
		}
	}
}

// render turns a decision into Envoy's answer.
func (s *Server) render(in *incoming, d *authz.Decision) *authv3.CheckResponse {
	if d.Outcome == authz.Allow {
		return s.allowed(in, d)
	}
	var hs []*corev3.HeaderValueOption
	if d.Location != "" {
		hs = append(hs, header("location", d.Location, overwrite))
	}
	for _, k := range slices.Sorted(maps.Keys(d.Header)) {
		for _, v := range d.Header[k] {
			hs = append(hs, header(strings.ToLower(k), v, overwrite))
		}
	}
	for _, c := range d.Cookies {
		// Several Set-Cookie headers must be appended, not overwrite each other.
		hs = append(hs, header("set-cookie", c.String(), appendHeader))
	}
	code := codes.PermissionDenied
	if d.Status == http.StatusUnauthorized || d.Outcome == authz.Redirect {
		code = codes.Unauthenticated
	}
	return denied(code, d.Status, hs, d.Body)
}

// okResponse is every message of an allowed answer in one allocation: Check runs for every request, and
// a dozen small protobuf allocations per call showed up as garbage-collection time.
type okResponse struct {
	resp   authv3.CheckResponse
	status rpcstatus.Status
	wrap   authv3.CheckResponse_OkResponse
	ok     authv3.OkHttpResponse
	opts   [4]corev3.HeaderValueOption // the three identity headers and the rewritten cookie
	vals   [4]corev3.HeaderValue
	ptrs   [4]*corev3.HeaderValueOption
}

// allowed sets the identity headers (overwriting the client's), removes the client's copies in other
// spellings, and keeps authbridge's cookies from the upstream.
func (s *Server) allowed(in *incoming, d *authz.Decision) *authv3.CheckResponse {
	r := &okResponse{}
	n := 0
	add := func(k, v string) {
		r.vals[n].Key, r.vals[n].Value = k, v
		r.opts[n].Header, r.opts[n].AppendAction = &r.vals[n], overwrite
		r.ptrs[n] = &r.opts[n]
		n++
	}
	for i, k := range identityHeaders {
		add(lowerIdentity[i], d.Upstream.Get(k))
	}
	for k := range in.headers {
		switch k {
		case "authorization", "x-auth-request-user", "x-auth-request-email":
			// overwritten above
		default:
			if authz.IsIdentityHeader(k) {
				r.ok.HeadersToRemove = append(r.ok.HeadersToRemove, k)
			}
		}
	}
	if in.Cookie != "" {
		if kept, changed := s.engine.UpstreamCookie(in.Cookie); changed {
			if kept == "" {
				r.ok.HeadersToRemove = append(r.ok.HeadersToRemove, "cookie")
			} else {
				add("cookie", kept)
			}
		}
	}
	slices.Sort(r.ok.HeadersToRemove) // stable answers for the same request
	r.ok.Headers = r.ptrs[:n:n]
	r.wrap.OkResponse = &r.ok
	r.status.Code = int32(codes.OK)
	r.resp.Status, r.resp.HttpResponse = &r.status, &r.wrap
	return &r.resp
}

// identityHeaders are the upstream headers an allowed decision carries, in a fixed order, and
// lowerIdentity their HTTP/2 spelling; both are read-only.
var (
	identityHeaders = authz.IdentityHeaders()
	lowerIdentity   = []string{"authorization", "x-auth-request-user", "x-auth-request-email"}
)

const (
	overwrite    = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	appendHeader = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
)

func header(k, v string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: action}
}

func denied(code codes.Code, status int, hs []*corev3.HeaderValueOption, body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: strconv.Itoa(status)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: hs,
			Body:    body,
		}},
	}
}
