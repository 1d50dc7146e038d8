package gateway

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// EdgeHeaders makes the edits that the connection manager of an edge Envoy (use_remote_address: true,
// as an Istio ingress gateway runs) makes to r before any filter sees it:
//   - connection-specific headers are removed;
//   - x-forwarded-proto is overwritten with the scheme of the client's connection;
//   - the client's address is appended to x-forwarded-for;
//   - a loopback or private client is internal and gets x-envoy-internal: true; any other client is
//     external, loses every x-envoy-* header it sent and gets x-envoy-external-address;
//   - x-request-id is a new UUIDv4 for external clients and for internal ones that sent none.
func EdgeHeaders(r *http.Request) {
	h := r.Header
	removeHopByHop(h)
	h.Set("X-Forwarded-Proto", schemeOf(r))
	ip := remoteAddr(r).Addr()
	internal := ip.IsValid() && (ip.IsLoopback() || ip.IsPrivate())
	if internal {
		h.Set("X-Envoy-Internal", "true")
	} else {
		for k := range h {
			if strings.HasPrefix(k, "X-Envoy-") {
				delete(h, k)
			}
		}
	}
	if ip.IsValid() {
		appendForwardedFor(h, ip.String())
		if !internal {
			h.Set("X-Envoy-External-Address", ip.String())
		}
	}
	if !internal || h.Get("X-Request-Id") == "" {
		h.Set("X-Request-Id", newUUID())
	}
}

// CheckRequest builds the CheckRequest that the HTTP ext_authz filter of Envoy 1.3x sends for r with
// its default settings (no request body, headers as a map, no header matchers). r is the request as
// the filter sees it, so call EdgeHeaders first. streamID is Envoy's stream id; start is when the
// request began.
//
// As Envoy does: header keys are lower case; the pseudo-headers :authority, :path (the request target
// with its query, not decoded), :method and :scheme are in the map, and Host is not; repeated headers
// are joined with "," (an HTTP/2 client's cookie crumbs arrive joined with "; " already); a client's
// x-envoy-auth-partial-body is dropped; source is the client's address and destination the
// gateway's own; size is the body bytes received so far, 0 when the check runs on the headers.
func CheckRequest(r *http.Request, streamID uint64, start time.Time) *authv3.CheckRequest {
	path := r.RequestURI
	if !strings.HasPrefix(path, "/") && path != "*" {
		path = r.URL.RequestURI() // absolute-form target, or a request built by hand
	}
	scheme := schemeOf(r)
	headers := map[string]string{":authority": r.Host, ":path": path, ":method": r.Method, ":scheme": scheme}
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		if k == "host" || k == "x-envoy-auth-partial-body" || len(vs) == 0 {
			continue
		}
		headers[k] = strings.Join(vs, ",")
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(remoteAddr(r))},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress(localAddr(r))},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(start),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       strconv.FormatUint(streamID, 10),
				Method:   r.Method,
				Headers:  headers,
				Path:     path,
				Host:     r.Host,
				Scheme:   scheme,
				Protocol: protocol(r),
			},
		},
		MetadataContext:      &corev3.Metadata{},
		RouteMetadataContext: &corev3.Metadata{},
	}}
}

// protocol names the HTTP version as Envoy does.
func protocol(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	}
	if r.ProtoMinor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

func socketAddress(ap netip.AddrPort) *corev3.Address {
	if !ap.IsValid() {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ap.Addr().String(),
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(ap.Port())},
	}}}
}

// newUUID returns a random (version 4) UUID, the format of Envoy's x-request-id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
