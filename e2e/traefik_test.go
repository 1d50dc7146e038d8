package e2e_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

// Traefik's own config types cannot be used here: github.com/traefik/traefik/v3/pkg/config/dynamic
// (v3.7.13) imports github.com/traefik/traefik/dynamic/ext, which exists only through a replace directive
// in Traefik's go.mod and so does not resolve from the Go module proxy, and it would pull in
// Kubernetes client-go, OpenTelemetry and lego. These types copy the field names of Traefik v3.7's
// dynamic.ForwardAuth and of its CRDs (traefikio/v1alpha1), for the parts the shipped files use, and are
// decoded with unknown keys refused.

// traefikForwardAuth is Traefik's forwardAuth middleware (file provider and CRD alike).
type traefikForwardAuth struct {
	Address                  string         `yaml:"address"`
	TLS                      map[string]any `yaml:"tls"`
	TrustForwardHeader       *bool          `yaml:"trustForwardHeader"`
	AuthResponseHeaders      []string       `yaml:"authResponseHeaders"`
	AuthResponseHeadersRegex string         `yaml:"authResponseHeadersRegex"`
	AuthRequestHeaders       []string       `yaml:"authRequestHeaders"`
	AddAuthCookiesToResponse []string       `yaml:"addAuthCookiesToResponse"`
	ForwardBody              bool           `yaml:"forwardBody"`
	MaxBodySize              *int64         `yaml:"maxBodySize"`
	PreserveLocationHeader   bool           `yaml:"preserveLocationHeader"`
}

type traefikMiddleware struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		ForwardAuth *traefikForwardAuth `yaml:"forwardAuth"`
	} `yaml:"spec"`
}

type traefikRef struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type traefikIngressRoute struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		EntryPoints []string `yaml:"entryPoints"`
		Routes      []struct {
			Match       string       `yaml:"match"`
			Kind        string       `yaml:"kind"`
			Priority    int          `yaml:"priority"`
			Middlewares []traefikRef `yaml:"middlewares"`
			Services    []struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
				Port      any    `yaml:"port"` // a number or a port name
			} `yaml:"services"`
		} `yaml:"routes"`
		TLS *struct {
			SecretName   string      `yaml:"secretName"`
			CertResolver string      `yaml:"certResolver"`
			Options      *traefikRef `yaml:"options"`
		} `yaml:"tls"`
	} `yaml:"spec"`
}

type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string   `yaml:"rule"`
			EntryPoints []string `yaml:"entryPoints"`
			Middlewares []string `yaml:"middlewares"`
			Service     string   `yaml:"service"`
			Priority    int      `yaml:"priority"`
			TLS         *struct {
				CertResolver string `yaml:"certResolver"`
				Options      string `yaml:"options"`
			} `yaml:"tls"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *traefikForwardAuth `yaml:"forwardAuth"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
				PassHostHeader *bool `yaml:"passHostHeader"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// traefikFiles are the shipped Traefik configs, decoded.
type traefikFiles struct {
	middleware traefikMiddleware
	route      traefikIngressRoute
	dynamic    traefikDynamic
}

// shippedTraefik decodes the three Traefik files strictly.
func shippedTraefik(middleware, route, dynamic string) (*traefikFiles, error) {
	ms, err := decodeStrict[traefikMiddleware](middleware)
	if err != nil {
		return nil, err
	}
	rs, err := decodeStrict[traefikIngressRoute](route)
	if err != nil {
		return nil, err
	}
	ds, err := decodeStrict[traefikDynamic](dynamic)
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 || len(rs) != 1 || len(ds) != 1 {
		return nil, errors.New("want one document per file")
	}
	f := &traefikFiles{middleware: ms[0], route: rs[0], dynamic: ds[0]}
	for _, fa := range f.forwardAuths() {
		if fa == nil {
			return nil, errors.New("no forwardAuth")
		}
	}
	return f, nil
}

func (f *traefikFiles) forwardAuths() []*traefikForwardAuth {
	fas := []*traefikForwardAuth{f.middleware.Spec.ForwardAuth}
	for _, m := range f.dynamic.HTTP.Middlewares {
		fas = append(fas, m.ForwardAuth)
	}
	return fas
}

func readTraefik(t *testing.T) (string, string, string) {
	t.Helper()
	return shipped(t, "traefik/middleware.yaml"), shipped(t, "traefik/ingressroute.yaml"), shipped(t, "traefik/dynamic.yaml")
}

// aliasSpellings are names a client may send that CGI-style apps read as one of the identity headers, as
// Go (and so Traefik) canonicalizes them.
var aliasSpellings = []string{"X-Auth-Request-User", "X_auth_request_user", "X.auth.request.user",
	"X-Auth-Request-Email", "X_auth_request_email", "X-Auth-Request-Groups", "X~auth~request~groups"}

func TestTraefikConfig(t *testing.T) {
	mw, route, dyn := readTraefik(t)
	f, err := shippedTraefik(mw, route, dyn)
	require.NoError(t, err)

	require.Equal(t, "traefik.io/v1alpha1", f.middleware.APIVersion)
	require.Equal(t, "Middleware", f.middleware.Kind)
	require.Equal(t, "IngressRoute", f.route.Kind)
	for _, fa := range f.forwardAuths() {
		u, err := url.Parse(fa.Address)
		require.NoError(t, err)
		require.Equal(t, "/auth", u.Path, "the forward-auth endpoint")
		require.Equal(t, "4181", u.Port(), "authbridge's gateway-only forward-auth port")
		require.NotNil(t, fa.TrustForwardHeader)
		require.True(t, *fa.TrustForwardHeader, "X-Forwarded-Proto/Host as the entry point accepted them")
		require.Equal(t, append(authz.IdentityHeaders(), authz.HeaderCookie), fa.AuthResponseHeaders,
			"the identity headers and the Cookie without authbridge's own replace the client's")
		require.False(t, fa.ForwardBody, "authbridge never needs the body")
		require.Empty(t, fa.AuthRequestHeaders, "Traefik passes every header, the cookie included")
		require.False(t, fa.PreserveLocationHeader)

		// Traefik deletes every request header the regex matches, then copies the auth answer's.
		re := regexp.MustCompile(fa.AuthResponseHeadersRegex)
		for _, k := range aliasSpellings {
			require.True(t, re.MatchString(k), "%s is deleted from the client's request", k)
		}
		for _, k := range trustedIdentitySpellings(true) {
			if !strings.EqualFold(k, "authorization") {
				require.True(t, re.MatchString(http.CanonicalHeaderKey(k)), "%s is deleted from the client's request", k)
			}
		}
		for _, k := range []string{"Cookie", "Accept", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
			"X-Forwarded-Uri", "X-Forwarded-Method", "Xauthrequest", "X-Users", "X-Emails", "Remote-Addr", "Traceparent"} {
			require.False(t, re.MatchString(k), "%s is kept", k)
		}
	}
	// The file provider's middleware is the CRD's, but for the address (a Service's name in Kubernetes):
	// TestTraefik runs dynamic.yaml, and so proves middleware.yaml too.
	crd, file := *f.middleware.Spec.ForwardAuth, *f.dynamic.HTTP.Middlewares["authbridge"].ForwardAuth
	crd.Address = strings.Replace(crd.Address, "authbridge.auth.svc.cluster.local:4181", "authbridge:4181", 1)
	require.Equal(t, crd, file, "dynamic.yaml's forwardAuth is middleware.yaml's")
	require.Len(t, f.route.Spec.Routes, 1)
	require.Equal(t, []traefikRef{{Name: f.middleware.Metadata.Name}}, f.route.Spec.Routes[0].Middlewares,
		"the route uses the middleware")
	require.Equal(t, f.middleware.Metadata.Namespace, f.route.Metadata.Namespace, "a middleware without namespace is looked up in the route's")
	for name, r := range f.dynamic.HTTP.Routers {
		require.Len(t, r.Middlewares, 1, name)
		require.Contains(t, f.dynamic.HTTP.Middlewares, r.Middlewares[0], "router %s uses the middleware", name)
		require.Contains(t, f.dynamic.HTTP.Services, r.Service, "router %s has its service", name)
	}

	t.Run("strict", func(t *testing.T) {
		for _, tc := range []struct{ from, to string }{
			{"    authResponseHeaders:", "    authResponseHeader:"},
			{"trustForwardHeader: true", "trustForwardHeaders: true"},
			{"  forwardAuth:", "  forwardauth:"},
			{"      - authbridge", "      - authbridge\n      tsl: {}"},
			{"    - name: authbridge", "    - nmae: authbridge"},
			{"  entryPoints:", "  entrypoints:"},
		} {
			found := false
			for i, raw := range []string{mw, route, dyn} {
				if !strings.Contains(raw, tc.from) {
					continue
				}
				found = true
				files := []string{mw, route, dyn}
				files[i] = strings.Replace(raw, tc.from, tc.to, 1)
				_, err := shippedTraefik(files[0], files[1], files[2])
				require.Error(t, err, "%q in file %d", tc.to, i)
			}
			require.True(t, found, tc.from)
		}
	})
}
