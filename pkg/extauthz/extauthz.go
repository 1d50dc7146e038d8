// Package extauthz is the Envoy ext_authz v3 gRPC front: CheckRequest in, authz.Decision out as a
// CheckResponse.
package extauthz

import (
	"context"
	"errors"
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

// ContextExtensionRoute is the key of the per-route ext_authz context extension (ExtAuthzPerRoute
// check_settings.context_extensions) that names the policy route for the requests of an Envoy route.
const ContextExtensionRoute = "authbridge_route"

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
	in, err := toRequest(req)
	if err != nil {
		return s.refuse(req, err), nil
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

// refuse answers a CheckRequest that describes no single request (a *authz.RequestError) without asking
// the engine: an in-band 400 with a short plain-text reason, INVALID_ARGUMENT, no cookie and no login.
func (s *Server) refuse(req *authv3.CheckRequest, err error) *authv3.CheckResponse {
	reason := "malformed request"
	var re *authz.RequestError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	s.log.Warn("CheckRequest refused", "reason", reason, "request_id", requestID(req))
	s.engine.Refused(authz.FrontExtAuthz, authz.RefusedBadRequest)
	return denied(codes.InvalidArgument, http.StatusBadRequest, []*corev3.HeaderValueOption{
		header("cache-control", "no-store", overwrite),
		header("content-type", "text/plain; charset=utf-8", overwrite),
		header("x-content-type-options", "nosniff", overwrite),
	}, "bad request: "+reason+"\n")
}

// requestID is Envoy's x-request-id for logs, when it has the shape of one (at most 64 bytes).
func requestID(req *authv3.CheckRequest) string {
	id := req.GetAttributes().GetRequest().GetHttp().GetHeaders()["x-request-id"]
	if len(id) > 64 {
		return ""
	}
	return id
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
	r.ok.HeadersToRemove = in.identity
	for i, k := range identityHeaders {
		if v := d.Upstream.Get(k); v != "" {
			add(lowerIdentity[i], v)
		} else {
			// No value (a public route, a user without e-mail): the header is removed, not sent empty,
			// which some upstreams would read as a malformed credential. Nothing of that name was set,
			// so the removal takes only the client's copy.
			r.ok.HeadersToRemove = append(r.ok.HeadersToRemove, lowerIdentity[i])
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
	r.ok.Headers = r.ptrs[:n:n]
	if len(d.Upstream) > len(identityHeaders) {
		r.ok.Headers = routeHeaders(r.ok.Headers, &r.ok, d.Upstream)
	}
	slices.Sort(r.ok.HeadersToRemove) // stable answers for the same request
	r.wrap.OkResponse = &r.ok
	r.status.Code = int32(codes.OK)
	r.resp.Status, r.resp.HttpResponse = &r.status, &r.wrap
	return &r.resp
}

// routeHeaders appends to hs the upstream headers of d beyond the identity headers (a route's headers,
// authz.Route.Headers), set with OVERWRITE so a client's copy in any case is replaced, or, when empty,
// removed from the client's request. Client copies of them that toRequest put in headers_to_remove are
// taken out of it: Envoy removes after it sets, and would drop the value set here. Only routes with
// headers pay for this.
func routeHeaders(hs []*corev3.HeaderValueOption, ok *authv3.OkHttpResponse, up http.Header) []*corev3.HeaderValueOption {
	for _, k := range slices.Sorted(maps.Keys(up)) {
		if slices.Contains(identityHeaders, k) {
			continue
		}
		lower := strings.ToLower(k)
		ok.HeadersToRemove = slices.DeleteFunc(ok.HeadersToRemove, func(h string) bool { return strings.EqualFold(h, lower) })
		if v := up.Get(k); v != "" {
			hs = append(hs, header(lower, v, overwrite))
		} else {
			ok.HeadersToRemove = append(ok.HeadersToRemove, lower)
		}
	}
	return hs
}

// identityHeaders are the upstream headers an allowed decision carries, in a fixed order, and
// lowerIdentity their HTTP/2 spelling; both are read-only.
var (
	identityHeaders = authz.IdentityHeaders()
	lowerIdentity   = []string{"authorization", "x-auth-request-user", "x-auth-request-email"}
)

// overwritten reports whether k names one of lowerIdentity, ASCII case aside. Those are not removed
// as well as set: Envoy removes headers_to_remove without regard to case, after it sets the headers.
func overwritten(k string) bool {
	for _, l := range lowerIdentity {
		if strings.EqualFold(k, l) {
			return true
		}
	}
	return false
}

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
