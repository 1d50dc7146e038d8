package e2e_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

// twoAppsPolicy loads deploy/policy/two-apps.yaml as authbridge does and compiles it as the engine does.
func twoAppsPolicy(t *testing.T) *authz.CompiledPolicy {
	t.Helper()
	c, err := config.Load("../deploy/policy/two-apps.yaml", []string{
		"AUTHBRIDGE_OIDC_ISSUER_URL=https://tenant.eu.auth0.com/", "AUTHBRIDGE_OIDC_CLIENT_ID=abc",
		"AUTHBRIDGE_OIDC_REDIRECT_URL=https://app.example.com/oauth2/callback", "AUTHBRIDGE_SESSION_STORE=memory",
	})
	require.NoError(t, err)
	p := authz.Policy{EmailDomains: c.Policy.EmailDomains, Groups: c.Policy.Groups}
	for _, r := range c.Policy.Routes {
		p.Routes = append(p.Routes, authz.Route{Name: r.Name, Host: r.Host, Path: r.Path, Methods: r.Methods, Public: r.Public,
			Require: authz.Rule{Groups: r.Groups, Emails: r.Emails, EmailDomains: r.EmailDomains, Claims: r.Claims}})
	}
	cp, err := authz.CompilePolicy(p)
	require.NoError(t, err)
	require.Empty(t, cp.Shadowed())
	return cp
}

// routeNamed reports which route the policy applies to a request that names route (or none, matching).
func routeNamed(cp *authz.CompiledPolicy, host, uri, route string) authz.Explanation {
	return cp.Explain(&authz.Request{Method: "GET", Host: host, URI: uri, Route: route}, nil)
}

// TestTwoAppsPolicy: the policy the two-app examples name; matching and naming reach the same rule.
func TestTwoAppsPolicy(t *testing.T) {
	cp := twoAppsPolicy(t)
	for _, tc := range []struct {
		host, uri, route string
		want             int
		public           bool
	}{
		{"admin.example.com", "/users", "", 0, false},
		{"admin.example.com", "/users", "admin", 0, false},
		{"app.example.com", "/static/app.js", "", 1, true},
		{"app.example.com", "/static/app.js", "static", 1, true},
		{"app.example.com", "/", "", -1, false},
	} {
		x := routeNamed(cp, tc.host, tc.uri, tc.route)
		require.Equal(t, tc.want, x.Route, "%+v", tc)
		require.Equal(t, tc.public, x.Public, "%+v", tc)
	}
}

// TestEnvoyTwoAppsConfig: deploy/envoy/two-apps.yaml decodes strictly into Envoy's bootstrap, its ext_authz
// settings are envoy.yaml's, and each per-route context extension names a route of the policy.
func TestEnvoyTwoAppsConfig(t *testing.T) {
	cp := twoAppsPolicy(t)
	raw := shipped(t, "envoy/two-apps.yaml")
	hcm, ea, _, err := shippedEnvoy(raw)
	require.NoError(t, err)
	_, want, _, err := shippedEnvoy(shipped(t, "envoy/envoy.yaml"))
	require.NoError(t, err)
	require.Equal(t, want.GetFailureModeAllow(), ea.GetFailureModeAllow())
	require.Equal(t, want.GetStatusOnError().GetCode(), ea.GetStatusOnError().GetCode())
	require.Equal(t, want.GetGrpcService().GetEnvoyGrpc().GetClusterName(), ea.GetGrpcService().GetEnvoyGrpc().GetClusterName())
	require.True(t, hcm.GetNormalizePath().GetValue() && hcm.GetMergeSlashes(), "authbridge checks the path the app sees")

	named := map[string]string{} // virtual host + prefix → route name
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			key := vh.GetName() + " " + r.GetMatch().GetPrefix()
			cfg, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
			if !ok {
				named[key] = ""
				continue
			}
			var per extauthzv3.ExtAuthzPerRoute
			require.NoError(t, cfg.UnmarshalTo(&per))
			require.NoError(t, per.ValidateAll())
			require.False(t, per.GetDisabled(), "every route is checked")
			name := per.GetCheckSettings().GetContextExtensions()[extauthz.ContextExtensionRoute]
			require.NotEmpty(t, name, key)
			require.Equal(t, 0, routeNamed(cp, "x.test", "/", name).Status, "%s names route %q, which the policy has", key, name)
			named[key] = name
		}
	}
	require.Equal(t, map[string]string{"admin /": "admin", "app /static/": "static", "app /": ""}, named)

	t.Run("strict", func(t *testing.T) {
		for _, tc := range []struct{ from, to string }{
			{"context_extensions: { authbridge_route: admin }", "context_extension: { authbridge_route: admin }"},
			{"check_settings:", "checks_settings:"},
			{"ext_authz.v3.ExtAuthzPerRoute", "ext_authz.v3.ExtAuthzPerRoutes"},
		} {
			require.Contains(t, raw, tc.from)
			_, _, _, err := shippedEnvoy(strings.Replace(raw, tc.from, tc.to, 1))
			require.Error(t, err, tc.to)
		}
	})
}

// TestTraefikTwoAppsConfig: deploy/traefik/two-apps.yaml and two-apps-crd.yaml decode strictly with
// Traefik's field names, every middleware asks /auth on port 4181 with the identity settings of the
// shipped single-app files, naming a route of the policy or none, and every router uses its own.
func TestTraefikTwoAppsConfig(t *testing.T) {
	cp := twoAppsPolicy(t)
	mw, _, dyn := readTraefik(t)
	single, err := shippedTraefik(mw, shipped(t, "traefik/ingressroute.yaml"), dyn)
	require.NoError(t, err)
	check := func(t *testing.T, where string, fa *traefikForwardAuth) string {
		t.Helper()
		require.NotNil(t, fa, where)
		u, err := url.Parse(fa.Address)
		require.NoError(t, err)
		require.Equal(t, "/auth", u.Path, where)
		require.Equal(t, "4181", u.Port(), where)
		require.Equal(t, single.middleware.Spec.ForwardAuth.AuthResponseHeaders, fa.AuthResponseHeaders, where)
		require.Equal(t, single.middleware.Spec.ForwardAuth.AuthResponseHeadersRegex, fa.AuthResponseHeadersRegex, where)
		require.True(t, fa.TrustForwardHeader != nil && *fa.TrustForwardHeader, where)
		route := u.Query().Get("route")
		require.Equal(t, 0, routeNamed(cp, "x.test", "/", route).Status, "%s names route %q, which the policy has", where, route)
		return route
	}

	raw := shipped(t, "traefik/two-apps.yaml")
	ds, err := decodeStrict[traefikDynamic](raw)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	routes := map[string]string{}
	for name, m := range ds[0].HTTP.Middlewares {
		routes[name] = check(t, name, m.ForwardAuth)
	}
	require.Equal(t, map[string]string{"authbridge-admin": "admin", "authbridge-static": "static", "authbridge": ""}, routes)
	for name, r := range ds[0].HTTP.Routers {
		require.Len(t, r.Middlewares, 1, name)
		require.Contains(t, routes, r.Middlewares[0], name)
		require.Contains(t, ds[0].HTTP.Services, r.Service, name)
	}

	crd := shipped(t, "traefik/two-apps-crd.yaml")
	crdRoutes := map[string]string{}
	var used []string
	for _, doc := range strings.Split(crd, "\n---\n") {
		switch {
		case strings.Contains(doc, "\nkind: Middleware\n"):
			ms, err := decodeStrict[traefikMiddleware](doc)
			require.NoError(t, err)
			crdRoutes[ms[0].Metadata.Name] = check(t, ms[0].Metadata.Name, ms[0].Spec.ForwardAuth)
		case strings.Contains(doc, "\nkind: IngressRoute\n"):
			rs, err := decodeStrict[traefikIngressRoute](doc)
			require.NoError(t, err)
			for _, r := range rs[0].Spec.Routes {
				require.Len(t, r.Middlewares, 1)
				used = append(used, r.Middlewares[0].Name)
			}
		default:
			t.Fatalf("unexpected document in two-apps-crd.yaml:\n%s", doc)
		}
	}
	require.Equal(t, routes, crdRoutes, "the CRDs name the same routes as the file provider")
	for _, name := range used {
		require.Contains(t, crdRoutes, name)
	}
	require.True(t, slices.Contains(used, "authbridge-admin") && slices.Contains(used, "authbridge-static"))

	t.Run("strict", func(t *testing.T) {
		_, err := decodeStrict[traefikDynamic](strings.Replace(raw, "trustForwardHeader: true", "trustForwardHeaders: true", 1))
		require.Error(t, err)
		_, err = decodeStrict[traefikMiddleware](strings.Replace(strings.Split(crd, "\n---\n")[0], "forwardAuth:", "forwardauth:", 1))
		require.Error(t, err)
	})
}
