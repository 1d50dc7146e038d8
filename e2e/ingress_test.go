package e2e_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/authz"
)

// ingressV1 is a networking.k8s.io/v1 Ingress, as far as the shipped manifest uses it (Kubernetes' own
// types would bring client-go along), decoded with unknown keys refused.
type ingressV1 struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		IngressClassName string `yaml:"ingressClassName"`
		TLS              []struct {
			Hosts      []string `yaml:"hosts"`
			SecretName string   `yaml:"secretName"`
		} `yaml:"tls"`
		Rules []struct {
			Host string `yaml:"host"`
			HTTP struct {
				Paths []ingressPath `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

type ingressPath struct {
	Path     string `yaml:"path"`
	PathType string `yaml:"pathType"`
	Backend  struct {
		Service struct {
			Name string `yaml:"name"`
			Port struct {
				Number int    `yaml:"number"`
				Name   string `yaml:"name"`
			} `yaml:"port"`
		} `yaml:"service"`
	} `yaml:"backend"`
}

// ingress-nginx annotations the manifest may use.
const (
	annAuthURL      = "nginx.ingress.kubernetes.io/auth-url"
	annAuthSignin   = "nginx.ingress.kubernetes.io/auth-signin"
	annAuthResponse = "nginx.ingress.kubernetes.io/auth-response-headers"
)

func shippedIngress(raw string) (app, oauth2 *ingressV1, err error) {
	objs, err := decodeStrict[ingressV1](raw)
	if err != nil {
		return nil, nil, err
	}
	if len(objs) != 2 {
		return nil, nil, errors.New("want the app's Ingress and authbridge's")
	}
	for k := range objs[0].Metadata.Annotations {
		if k != annAuthURL && k != annAuthSignin && k != annAuthResponse {
			return nil, nil, errors.New("unknown annotation " + k)
		}
	}
	return &objs[0], &objs[1], nil
}

func TestIngressNginxAnnotations(t *testing.T) {
	raw := shipped(t, "nginx/ingress-annotations.yaml")
	app, oauth2, err := shippedIngress(raw)
	require.NoError(t, err)

	ann := app.Metadata.Annotations
	authURL, err := url.Parse(ann[annAuthURL])
	require.NoError(t, err)
	require.Equal(t, "/oauth2/auth", authURL.Path, "nginx mode: 401 instead of redirects")
	require.Equal(t, "4181", authURL.Port(), "the gateway-only forward-auth port")
	require.Equal(t, "https://$host/oauth2/start?rd=$escaped_request_uri", ann[annAuthSignin])
	require.Equal(t, strings.Join(append(authz.IdentityHeaders(), authz.HeaderCookie), ","), ann[annAuthResponse], "every identity header, and the Cookie without authbridge's own, replaces the client's")

	// authbridge's own paths: in authbridge's namespace, on the app's host, exact, and never the
	// session check, which answers with the access token.
	svc, ns, _ := strings.Cut(authURL.Hostname(), ".")
	require.Equal(t, svc+"/"+strings.SplitN(ns, ".", 2)[0], "authbridge/"+oauth2.Metadata.Namespace)
	require.Empty(t, oauth2.Metadata.Annotations, "no auth check on the login itself")
	require.Equal(t, app.Spec.Rules[0].Host, oauth2.Spec.Rules[0].Host)
	var paths []string
	for _, p := range oauth2.Spec.Rules[0].HTTP.Paths {
		require.Equal(t, "Exact", p.PathType, p.Path)
		require.Equal(t, "authbridge", p.Backend.Service.Name)
		require.Equal(t, 4180, p.Backend.Service.Port.Number, "the browser-facing port")
		paths = append(paths, p.Path)
	}
	require.ElementsMatch(t, []string{authz.PathStart, authz.PathCallback, authz.PathSignOut, authz.PathUserInfo}, paths)

	t.Run("strict", func(t *testing.T) {
		for _, tc := range []struct{ from, to string }{
			{"auth-response-headers:", "auth-response-header:"},
			{"  ingressClassName: nginx", "  ingressclassName: nginx"},
			{"        pathType: Exact", "        pathtype: Exact"},
			{"            port:\n              number: 4180", "            port:\n              numbre: 4180"},
		} {
			require.Contains(t, raw, tc.from)
			_, _, err := shippedIngress(strings.Replace(raw, tc.from, tc.to, 1))
			require.Error(t, err, tc.to)
		}
	})
}
