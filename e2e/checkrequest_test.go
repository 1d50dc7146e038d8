package e2e_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/authbridge/authbridge/internal/enginetest"
	"github.com/authbridge/authbridge/pkg/extauthz"
)

// The golden cases run in this order against one engine: the navigation starts the login that the
// callback finishes, whose session the later cases use and sign-out ends. Each testdata/envoy/NAME.request.json
// is a CheckRequest shaped like Envoy 1.3x's (protojson); NAME.response.json is the full CheckResponse,
// with the values that change from run to run replaced by {{placeholders}}.
var goldenCases = []string{
	"navigate_no_session",
	"callback",
	"fetch_no_session",
	"post_no_session",
	"allowed_forged_identity",
	"allowed_only_own_cookie",
	"two_session_cookies",
	"sign_out_cross_site",
	"sign_out",
	"fetch_after_sign_out",
	"no_http_attributes",
	"forwarded_proto_javascript", // review: became login_url "javascript://…"
}

// goldenVars holds the run's values for the {{placeholders}} of requests and responses.
type goldenVars map[string]string

var (
	setCookieRe  = regexp.MustCompile(`(authbridge(?:-login-[A-Za-z0-9_\-]{8})?)=([^;"]+)`)
	loginNameRe  = regexp.MustCompile(`authbridge-login-([A-Za-z0-9_\-]{8})`) // one cookie per login, tagged with its state
	randomParam  = regexp.MustCompile(`\b(state|nonce|code_challenge)=[A-Za-z0-9_\-]+`)
	bearerRe     = regexp.MustCompile(`Bearer ey[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+`)
	idTokenParam = regexp.MustCompile(`id_token_hint=[A-Za-z0-9_\-.]+`)
	locationRe   = regexp.MustCompile(`"value":\s*"(http[^"]+)"`)
)

func TestCheckRequestGolden(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	client := bufconnClient(t, env)
	vars := goldenVars{}
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "envoy", name+".request.json"))
			require.NoError(t, err)
			var req authv3.CheckRequest
			require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal([]byte(vars.fill(t, string(raw))), &req))
			if name != "no_http_attributes" {
				requireEnvoyShape(t, &req)
			}
			resp, err := client.Check(context.Background(), &req)
			require.NoError(t, err, "authbridge answers every check; a gRPC error would be Envoy's failure mode")
			got := vars.learn(t, env, canonicalJSON(t, resp))

			path := filepath.Join("testdata", "envoy", name+".response.json")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to write the golden file")
			require.Equal(t, string(want), got)
		})
	}
}

// fill replaces the request's {{placeholders}} with the run's values.
func (v goldenVars) fill(t *testing.T, s string) string {
	t.Helper()
	for k, val := range v {
		s = strings.ReplaceAll(s, "{{"+k+"}}", val)
	}
	require.NotContains(t, s, "{{", "every placeholder is known by now")
	return s
}

// learn records the values a response carries (cookies, the callback URL) for later requests and
// replaces them, and everything else that changes from run to run, by placeholders.
func (v goldenVars) learn(t *testing.T, env *enginetest.Env, s string) string {
	t.Helper()
	for _, m := range setCookieRe.FindAllStringSubmatch(s, -1) {
		if m[1] == "authbridge" {
			v["session"] = m[2]
		} else {
			v["login_tag"], v["login_cookie"] = m[1][len("authbridge-login-"):], m[2]
		}
	}
	if m := locationRe.FindStringSubmatch(s); m != nil && strings.HasPrefix(m[1], env.IDPURL+"authorize?") {
		v["callback_uri"] = env.FollowToProvider(t, m[1])
	}
	s = setCookieRe.ReplaceAllStringFunc(s, func(c string) string {
		name, _, _ := strings.Cut(c, "=")
		if name == "authbridge" {
			return name + "={{session}}"
		}
		return name + "={{login_cookie}}"
	})
	s = loginNameRe.ReplaceAllString(s, "authbridge-login-{{login_tag}}")
	s = randomParam.ReplaceAllString(s, "$1={{random}}")
	s = bearerRe.ReplaceAllString(s, "Bearer {{access_token}}")
	s = idTokenParam.ReplaceAllString(s, "id_token_hint={{id_token}}")
	return strings.ReplaceAll(s, env.IDPURL, "{{issuer}}/")
}

// canonicalJSON renders a message as indented JSON with sorted keys (protojson's own output is
// deliberately unstable).
func canonicalJSON(t *testing.T, resp *authv3.CheckResponse) string {
	t.Helper()
	b, err := protojson.Marshal(resp)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var out strings.Builder
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // URLs keep their '&'
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return out.String()
}

// requireEnvoyShape checks that a fixture looks like what Envoy 1.3x sends.
func requireEnvoyShape(t *testing.T, req *authv3.CheckRequest) {
	t.Helper()
	a := req.GetAttributes()
	h := a.GetRequest().GetHttp()
	for k := range h.GetHeaders() {
		require.Equal(t, strings.ToLower(k), k, "Envoy lower-cases header names")
	}
	for _, k := range []string{":authority", ":path", ":method", ":scheme", "x-request-id", "x-forwarded-proto"} {
		require.Contains(t, h.GetHeaders(), k)
	}
	require.NotContains(t, h.GetHeaders(), "host", "HTTP/2 has :authority only")
	require.Equal(t, h.GetHeaders()[":path"], h.GetPath())
	require.Equal(t, h.GetHeaders()[":authority"], h.GetHost())
	require.Equal(t, h.GetHeaders()[":method"], h.GetMethod())
	require.Equal(t, h.GetHeaders()[":scheme"], h.GetScheme())
	require.NotEmpty(t, h.GetId())
	require.NotNil(t, a.GetRequest().GetTime())
	require.NotEmpty(t, a.GetSource().GetAddress().GetSocketAddress().GetAddress())
	require.NotZero(t, a.GetDestination().GetAddress().GetSocketAddress().GetPortValue())
	require.NotEmpty(t, a.GetContextExtensions())
}

// bufconnClient serves the ext_authz front of env's engine over an in-memory gRPC connection.
func bufconnClient(t *testing.T, env *enginetest.Env) authv3.AuthorizationClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, extauthz.New(env.Engine, nil))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}
