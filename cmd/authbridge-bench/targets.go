package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The protected request every check is about: an API call from a logged-in browser.
const (
	appHost  = "app.bench.test"
	appURI   = "/api/items?page=1"
	clientIP = "203.0.113.9"
)

// sessionsOf spreads the sessions over c workers: worker w gets sessions w, w+c, w+2c, … (at least one).
func sessionsOf(cookies []string, w, c int) []string {
	var out []string
	for i := w; i < len(cookies); i += c {
		out = append(out, cookies[i])
	}
	if len(out) == 0 {
		out = append(out, cookies[w%len(cookies)])
	}
	return out
}

// httpTarget asks base+"/auth" as Traefik's forwardAuth does, over keep-alive connections of one
// transport. close releases the connections.
func httpTarget(ctx context.Context, name, base string, pid int, cookies []string, c int) (t target, close func()) {
	tr := &http.Transport{
		MaxIdleConns:        c,
		MaxIdleConnsPerHost: c,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	t = target{name: name, pid: pid}
	for w := range c {
		var reqs []*http.Request
		for _, ck := range sessionsOf(cookies, w, c) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/auth", nil) // base was checked
			req.Header = http.Header{
				"X-Forwarded-Method": {"GET"},
				"X-Forwarded-Proto":  {"https"},
				"X-Forwarded-Host":   {appHost},
				"X-Forwarded-Uri":    {appURI},
				"X-Forwarded-For":    {clientIP},
				"Accept":             {"application/json"},
				"User-Agent":         {"authbridge-bench"},
				"Cookie":             {ck},
			}
			reqs = append(reqs, req)
		}
		i := 0
		t.workers = append(t.workers, func(context.Context) error {
			req := reqs[i%len(reqs)]
			i++
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/auth answered %d", resp.StatusCode)
			}
			return nil
		})
	}
	return t, tr.CloseIdleConnections
}

// grpcTarget calls Check with Envoy-shaped CheckRequests over conns connections. close closes them.
func grpcTarget(name, addr string, pid int, cookies []string, c, conns int) (target, func(), error) {
	var cs []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range cs {
			_ = cc.Close()
		}
	}
	for range conns {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll()
			return target{}, nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		cs = append(cs, cc)
	}
	t := target{name: name, pid: pid}
	var stream uint64
	for w := range c {
		client := authv3.NewAuthorizationClient(cs[w%len(cs)])
		var reqs []*authv3.CheckRequest
		for _, ck := range sessionsOf(cookies, w, c) {
			stream++
			reqs = append(reqs, checkRequest(ck, stream))
		}
		i := 0
		t.workers = append(t.workers, func(ctx context.Context) error {
			req := reqs[i%len(reqs)]
			i++
			resp, err := client.Check(ctx, req)
			if err != nil {
				return err
			}
			if resp.GetStatus().GetCode() != 0 || resp.GetOkResponse() == nil {
				return fmt.Errorf("check denied: grpc code %d, http status %d",
					resp.GetStatus().GetCode(), resp.GetDeniedResponse().GetStatus().GetCode())
			}
			return nil
		})
	}
	return t, closeAll, nil
}

// checkRequest is what Envoy's HTTP ext_authz filter sends for a browser's API call behind an edge
// gateway: lower-case header keys, the pseudo-headers in the map, the peers' addresses, no body.
func checkRequest(cookie string, stream uint64) *authv3.CheckRequest {
	id := fmt.Sprintf("6f1c2a7e-0b3d-4c5e-9a8f-%012x", stream)
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(clientIP, 52814)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress("10.0.0.7", 8443)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.Now(),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:     strconv.FormatUint(stream, 10),
				Method: "GET",
				Headers: map[string]string{
					":authority": appHost, ":path": appURI, ":method": "GET", ":scheme": "https",
					"accept": "application/json", "user-agent": "authbridge-bench", "cookie": cookie,
					"x-forwarded-proto": "https", "x-forwarded-for": clientIP, "x-request-id": id,
					"x-envoy-external-address": clientIP,
				},
				Path: appURI, Host: appHost, Scheme: "https", Protocol: "HTTP/2",
			},
		},
	}}
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
