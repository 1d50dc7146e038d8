package charts_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/authbridge/authbridge/pkg/config"
)

// The invariant "no route a browser can reach ever answers with a token", checked on every file we ship:
// the chart rendered with each values file in ci/, every file under deploy/, and the README's snippets.
// authbridge answers with a token only on its gateway-only listeners (forward-auth and gRPC; the
// browser-facing HTTP listener cannot, see pkg/forwardauth TestBrowserListenerNeverAnswersWithAToken), so a
// browser-facing route — an Ingress or Gateway API backend, a Traefik router's service, an Envoy route's
// cluster, an Istio destination, a non-internal nginx location, a Caddy reverse_proxy, a Service exposed
// outside the cluster — must never lead to one of those ports.

// tokenPorts are authbridge's ports that answer with a token, by number and by Service port name.
func tokenPorts(t *testing.T) map[string]bool {
	t.Helper()
	def := config.Default().Listen
	out := map[string]bool{"forward-auth": true, "grpc": true}
	for _, addr := range []string{def.ForwardAuth, def.GRPC} {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		out[port] = true
	}
	return out
}

// route is one place a browser-facing route leads to.
type route struct {
	where      string // file and what in it
	host, port string // the backend: service or host name, port number or name
}

func isAuthbridge(host string) bool {
	name, _, _ := strings.Cut(host, ".")
	return strings.HasPrefix(name, "authbridge") && !strings.HasPrefix(name, "authbridge-redis")
}

func checkRoutes(t *testing.T, routes []route) {
	t.Helper()
	bad := tokenPorts(t)
	for _, r := range routes {
		if isAuthbridge(r.host) && bad[r.port] {
			t.Errorf("%s: a browser-facing route leads to %s:%s, which answers with the access token", r.where, r.host, r.port)
		}
	}
}

// yamlRoutes finds the browser-facing routes in Kubernetes, Traefik, Envoy and Istio YAML documents.
func yamlRoutes(where string, docs []map[string]any) []route {
	var out []route
	clusters := map[string][]route{} // Envoy cluster name → its endpoints
	var envoyRoutes []string
	for _, d := range docs {
		kind, _ := d["kind"].(string)
		spec, _ := d["spec"].(map[string]any)
		switch kind {
		case "Ingress":
			walk(spec, func(k string, v any) {
				if k != "service" {
					return
				}
				svc, _ := v.(map[string]any)
				name, _ := svc["name"].(string)
				p, _ := svc["port"].(map[string]any)
				out = append(out, route{where + ": Ingress", name, portString(p["number"], p["name"])})
			})
		case "IngressRoute", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute":
			// Gateway API routes (and Traefik's IngressRoute) send what a listener receives to their
			// backends; a TLS passthrough or TCP route hands clients the port itself.
			walk(spec, func(k string, v any) {
				if k != "services" && k != "backendRefs" {
					return
				}
				list, _ := v.([]any)
				for _, e := range list {
					m, _ := e.(map[string]any)
					name, _ := m["name"].(string)
					out = append(out, route{where + ": " + kind, name, portString(m["port"], nil)})
				}
			})
		case "Service":
			if typ, _ := spec["type"].(string); typ == "LoadBalancer" || typ == "NodePort" {
				meta, _ := d["metadata"].(map[string]any)
				name, _ := meta["name"].(string)
				ports, _ := spec["ports"].([]any)
				for _, p := range ports {
					m, _ := p.(map[string]any)
					out = append(out, route{where + ": Service of type " + typ, name, portString(m["port"], nil)},
						route{where + ": Service of type " + typ, name, portString(nil, m["name"])})
				}
			}
		case "VirtualService":
			walk(spec, func(k string, v any) {
				if k != "destination" {
					return
				}
				m, _ := v.(map[string]any)
				host, _ := m["host"].(string)
				p, _ := m["port"].(map[string]any)
				out = append(out, route{where + ": VirtualService", host, portString(p["number"], nil)})
			})
		}
		// Traefik's file provider: http.services.*.loadBalancer.servers[].url, reached by routers.
		if h, ok := d["http"].(map[string]any); ok {
			walk(h["services"], func(k string, v any) {
				if k != "url" {
					return
				}
				if u, err := url.Parse(fmt.Sprint(v)); err == nil {
					out = append(out, route{where + ": Traefik service", u.Hostname(), u.Port()})
				}
			})
		}
		// Envoy: route_config routes lead to clusters; clusters have endpoints.
		if sr, ok := d["static_resources"].(map[string]any); ok {
			walk(sr["listeners"], func(k string, v any) {
				if m, ok := v.(map[string]any); ok && k == "route" {
					if c, ok := m["cluster"].(string); ok {
						envoyRoutes = append(envoyRoutes, c)
					}
				}
			})
			list, _ := sr["clusters"].([]any)
			for _, c := range list {
				m, _ := c.(map[string]any)
				name, _ := m["name"].(string)
				walk(m["load_assignment"], func(k string, v any) {
					if sa, ok := v.(map[string]any); ok && k == "socket_address" {
						clusters[name] = append(clusters[name], route{where + ": Envoy route to cluster " + name,
							fmt.Sprint(sa["address"]), portString(sa["port_value"], nil)})
					}
				})
			}
		}
	}
	for _, c := range envoyRoutes {
		out = append(out, clusters[c]...)
	}
	return out
}

func portString(number, name any) string {
	switch {
	case number != nil:
		return fmt.Sprint(number)
	case name != nil:
		return fmt.Sprint(name)
	}
	return ""
}

// walk calls f for every key and value under v, depth first.
func walk(v any, f func(k string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f(k, e)
			walk(e, f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}

func decodeYAMLDocs(t *testing.T, where string, src []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, where)
		if d != nil {
			docs = append(docs, d)
		}
	}
}

var (
	nginxLocation = regexp.MustCompile(`(?s)location\s+([^{]*)\{(.*?)\n\s*\}`)
	nginxPass     = regexp.MustCompile(`proxy_pass\s+https?://([^;/\s]+)`)
	caddyProxy    = regexp.MustCompile(`(?m)^\s*reverse_proxy\s+(\S+)`)
)

// nginxRoutes: every location that is not internal is browser-facing.
func nginxRoutes(where, conf string) []route {
	var out []route
	for _, m := range nginxLocation.FindAllStringSubmatch(conf, -1) {
		if regexp.MustCompile(`(?m)^\s*internal;`).MatchString(m[2]) {
			continue
		}
		for _, p := range nginxPass.FindAllStringSubmatch(m[2], -1) {
			host, port, _ := net.SplitHostPort(p[1])
			out = append(out, route{where + ": location " + strings.TrimSpace(m[1]), host, port})
		}
	}
	return out
}

// caddyRoutes: reverse_proxy is browser-facing; forward_auth is the gateway asking.
func caddyRoutes(where, conf string) []route {
	var out []route
	for _, m := range caddyProxy.FindAllStringSubmatch(conf, -1) {
		host, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(m[1], "http://"), "https://"))
		out = append(out, route{where + ": reverse_proxy", host, port})
	}
	return out
}

// shippedRoutes classifies one shipped file by its content.
func shippedRoutes(t *testing.T, where, content string) []route {
	t.Helper()
	switch {
	case strings.Contains(content, "location ") && strings.Contains(content, "proxy_pass"):
		return nginxRoutes(where, content)
	case strings.Contains(content, "reverse_proxy") || strings.Contains(content, "forward_auth"):
		return caddyRoutes(where, content)
	case strings.Contains(where, ".yaml") || strings.Contains(where, "yaml block"):
		return yamlRoutes(where, decodeYAMLDocs(t, where, []byte(content)))
	}
	return nil
}

func TestNoBrowserRouteReachesATokenEndpoint(t *testing.T) {
	t.Run("chart", func(t *testing.T) {
		for _, c := range ciValues {
			t.Run(c.file, func(t *testing.T) {
				stream, err := template(t, []string{filepath.Join(chartDir, "ci", c.file)})
				require.NoError(t, err)
				routes := yamlRoutes("chart with "+c.file, decodeYAMLDocs(t, c.file, []byte(stream)))
				checkRoutes(t, routes)
				if c.file == "all-values.yaml" {
					require.NotEmpty(t, routes, "the Ingress is rendered and seen")
				}
			})
		}
	})

	t.Run("deploy", func(t *testing.T) {
		seen := 0
		err := filepath.WalkDir("../deploy", func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			routes := shippedRoutes(t, path, string(b))
			seen += len(routes)
			checkRoutes(t, routes)
			return nil
		})
		require.NoError(t, err)
		require.GreaterOrEqual(t, seen, 11, "the checker finds the shipped routes (nginx, Caddy, Traefik, Envoy, ingress-nginx, "+
			"and two HTTPRoutes in each Gateway API example)")
	})

	t.Run("README", func(t *testing.T) {
		b, err := os.ReadFile("../README.md")
		require.NoError(t, err)
		blocks := regexp.MustCompile("(?s)```(\\w*)\\n(.*?)```").FindAllStringSubmatch(string(b), -1)
		require.NotEmpty(t, blocks)
		for i, m := range blocks {
			where := "README " + m[1] + " block " + strconv.Itoa(i)
			if m[1] == "yaml" {
				where = "README yaml block " + strconv.Itoa(i)
			}
			checkRoutes(t, shippedRoutes(t, where, m[2]))
		}
	})

	// The checker itself: each kind of route to a token port is caught.
	t.Run("checker catches", func(t *testing.T) {
		for _, tc := range []struct{ name, where, content string }{
			{"Ingress to forward-auth by name", "x.yaml", "kind: Ingress\nspec:\n  rules:\n  - http:\n      paths:\n      - backend:\n          service: {name: authbridge, port: {name: forward-auth}}\n"},
			{"Ingress to gRPC by number", "x.yaml", "kind: Ingress\nspec:\n  rules:\n  - http:\n      paths:\n      - backend:\n          service: {name: authbridge, port: {number: 9191}}\n"},
			{"HTTPRoute", "x.yaml", "kind: HTTPRoute\nspec:\n  rules:\n  - backendRefs: [{name: authbridge, port: 4181}]\n"},
			{"HTTPRoute into authbridge's namespace, gRPC port", "x.yaml", "kind: HTTPRoute\nspec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /oauth2/}}]\n    backendRefs: [{name: authbridge, namespace: auth, port: 9191}]\n"},
			{"GRPCRoute", "x.yaml", "kind: GRPCRoute\nspec:\n  rules:\n  - backendRefs: [{name: authbridge, port: 9191}]\n"},
			{"TLSRoute passthrough", "x.yaml", "kind: TLSRoute\nspec:\n  rules:\n  - backendRefs: [{name: authbridge, port: 9191}]\n"},
			{"TCPRoute", "x.yaml", "kind: TCPRoute\nspec:\n  rules:\n  - backendRefs: [{name: authbridge, port: 4181}]\n"},
			{"IngressRoute", "x.yaml", "kind: IngressRoute\nspec:\n  routes:\n  - services: [{name: authbridge, port: 4181}]\n"},
			{"LoadBalancer Service", "x.yaml", "kind: Service\nmetadata: {name: authbridge}\nspec:\n  type: LoadBalancer\n  ports: [{name: forward-auth, port: 4181}]\n"},
			{"Traefik file service", "x.yaml", "http:\n  services:\n    a:\n      loadBalancer:\n        servers: [{url: 'http://authbridge:4181/'}]\n"},
			{"Envoy route", "x.yaml", "static_resources:\n  listeners:\n  - routes:\n    - route: {cluster: ab}\n  clusters:\n  - name: ab\n    load_assignment:\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {address: {socket_address: {address: authbridge, port_value: 4181}}}\n"},
			{"nginx location", "x.conf", "location /oauth2/ {\n    proxy_pass http://authbridge:4181;\n}\n"},
			{"Caddy reverse_proxy", "Caddyfile", "x {\n\treverse_proxy authbridge:4181\n}\n"},
		} {
			routes := shippedRoutes(t, tc.where, tc.content)
			caught := false
			bad := tokenPorts(t)
			for _, r := range routes {
				caught = caught || (isAuthbridge(r.host) && bad[r.port])
			}
			require.True(t, caught, tc.name)
		}
		// And the safe shapes pass: an internal nginx location, the browser-facing port.
		for _, ok := range []string{
			"location = /oauth2/auth {\n    internal;\n    proxy_pass http://authbridge:4181;\n}\n",
			"location /oauth2/ {\n    proxy_pass http://authbridge:4180;\n}\n",
		} {
			for _, r := range shippedRoutes(t, "x.conf", ok) {
				require.False(t, isAuthbridge(r.host) && tokenPorts(t)[r.port], ok)
			}
		}
	})
}
