package oauth2proxy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// alphaPrefix starts the setting names that stand for parts of the alpha config rather than options.
const alphaPrefix = "alpha:"

// alphaConfig is the part of oauth2-proxy's alpha config (--alpha-config, YAML) the converter reads.
type alphaConfig struct {
	Providers             []alphaProvider `yaml:"providers"`
	InjectRequestHeaders  []alphaHeader   `yaml:"injectRequestHeaders"`
	InjectResponseHeaders []alphaHeader   `yaml:"injectResponseHeaders"`
	Server                *alphaServer    `yaml:"server"`
	MetricsServer         *alphaServer    `yaml:"metricsServer"`
}

type alphaServer struct {
	BindAddress       string `yaml:"BindAddress"`
	SecureBindAddress string `yaml:"SecureBindAddress"`
}

type alphaProvider struct {
	Provider            string   `yaml:"provider"`
	ClientID            string   `yaml:"clientID"`
	ClientSecret        string   `yaml:"clientSecret"`
	ClientSecretFile    string   `yaml:"clientSecretFile"`
	Scope               string   `yaml:"scope"`
	AllowedGroups       []string `yaml:"allowedGroups"`
	CodeChallengeMethod string   `yaml:"code_challenge_method"`
	BackendLogoutURL    string   `yaml:"backendLogoutURL"`
	OIDCConfig          struct {
		IssuerURL                      string   `yaml:"issuerURL"`
		InsecureAllowUnverifiedEmail   *bool    `yaml:"insecureAllowUnverifiedEmail"`
		InsecureSkipIssuerVerification *bool    `yaml:"insecureSkipIssuerVerification"`
		InsecureSkipNonce              *bool    `yaml:"insecureSkipNonce"`
		SkipDiscovery                  *bool    `yaml:"skipDiscovery"`
		JwksURL                        string   `yaml:"jwksURL"`
		EmailClaim                     string   `yaml:"emailClaim"`
		GroupsClaim                    string   `yaml:"groupsClaim"`
		UserIDClaim                    string   `yaml:"userIDClaim"`
		AudienceClaims                 []string `yaml:"audienceClaims"`
		ExtraAudiences                 []string `yaml:"extraAudiences"`
	} `yaml:"oidcConfig"`
}

type alphaHeader struct {
	Name                 string `yaml:"name"`
	PreserveRequestValue bool   `yaml:"preserveRequestValue"`
	Values               []struct {
		ClaimSource *struct {
			Claim             string    `yaml:"claim"`
			Prefix            string    `yaml:"prefix"`
			BasicAuthPassword yaml.Node `yaml:"basicAuthPassword"`
		} `yaml:"claimSource"`
	} `yaml:"values"`
}

// readAlpha puts the alpha config's single provider into settings under the legacy options' names (so
// that one table converts both), and the rest under alphaPrefix. oauth2-proxy refuses a provider option
// given both ways, and so does this.
func readAlpha(b []byte, settings map[string]setting) error {
	var a alphaConfig
	if err := yaml.Unmarshal(b, &a); err != nil {
		return inputError("alpha config", err)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		return inputError("alpha config", err)
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		// The top-level keys handled below; the others get a note.
		if !slices.Contains([]string{"providers", "injectRequestHeaders", "injectResponseHeaders", "server", "metricsServer", "upstreamConfig"}, k) {
			settings[alphaPrefix+k] = setting{name: k, source: "alpha config"}
		}
	}
	if _, ok := top["upstreamConfig"]; ok {
		settings[alphaPrefix+"upstreamConfig"] = setting{name: "upstreamConfig", source: "alpha config", vals: []string{"set"}}
	}
	switch len(a.Providers) {
	case 0:
	case 1:
		if err := alphaProviderSettings(a.Providers[0], settings); err != nil {
			return err
		}
	default:
		settings[alphaPrefix+"providers"] = setting{name: "providers", source: "alpha config", vals: []string{strconv.Itoa(len(a.Providers))}}
	}
	for _, h := range []struct {
		list     []alphaHeader
		key      string
		response bool
	}{{a.InjectRequestHeaders, "injectRequestHeaders", false}, {a.InjectResponseHeaders, "injectResponseHeaders", true}} {
		for i, hd := range h.list {
			name := fmt.Sprintf("%s%s[%d]", alphaPrefix, h.key, i)
			settings[name] = setting{name: h.key, source: fmt.Sprintf("alpha config %s[%d] (%s)", h.key, i, hd.Name), vals: headerVals(hd, h.response)}
		}
	}
	for _, s := range []struct {
		srv  *alphaServer
		name string
	}{{a.Server, "http_address"}, {a.MetricsServer, "metrics_address"}} {
		if s.srv == nil {
			continue
		}
		if s.srv.BindAddress != "" {
			if err := alphaSet(settings, s.name, "BindAddress", s.srv.BindAddress); err != nil {
				return err
			}
		}
		if s.srv.SecureBindAddress != "" {
			settings["https_address"] = setting{name: "https_address", source: "alpha config SecureBindAddress", vals: []string{s.srv.SecureBindAddress}}
		}
	}
	return nil
}

func alphaProviderSettings(p alphaProvider, settings map[string]setting) error {
	o := p.OIDCConfig
	for _, f := range []struct {
		name, path string
		vals       []string
	}{
		{"provider", "provider", one(p.Provider)},
		{"client_id", "clientID", one(p.ClientID)},
		{"client_secret", "clientSecret", one(p.ClientSecret)},
		{"client_secret_file", "clientSecretFile", one(p.ClientSecretFile)},
		{"scope", "scope", one(p.Scope)},
		{"allowed_groups", "allowedGroups", p.AllowedGroups},
		{"code_challenge_method", "code_challenge_method", one(p.CodeChallengeMethod)},
		{"backend_logout_url", "backendLogoutURL", one(p.BackendLogoutURL)},
		{"oidc_issuer_url", "oidcConfig.issuerURL", one(o.IssuerURL)},
		{"insecure_oidc_allow_unverified_email", "oidcConfig.insecureAllowUnverifiedEmail", flag(o.InsecureAllowUnverifiedEmail)},
		{"insecure_oidc_skip_issuer_verification", "oidcConfig.insecureSkipIssuerVerification", flag(o.InsecureSkipIssuerVerification)},
		{"insecure_oidc_skip_nonce", "oidcConfig.insecureSkipNonce", flag(o.InsecureSkipNonce)},
		{"skip_oidc_discovery", "oidcConfig.skipDiscovery", flag(o.SkipDiscovery)},
		{"oidc_jwks_url", "oidcConfig.jwksURL", one(o.JwksURL)},
		{"oidc_email_claim", "oidcConfig.emailClaim", one(o.EmailClaim)},
		{"oidc_groups_claim", "oidcConfig.groupsClaim", one(o.GroupsClaim)},
		{"user_id_claim", "oidcConfig.userIDClaim", one(o.UserIDClaim)},
		{"oidc_audience_claims", "oidcConfig.audienceClaims", o.AudienceClaims},
		{"oidc_extra_audiences", "oidcConfig.extraAudiences", o.ExtraAudiences},
	} {
		if len(f.vals) == 0 {
			continue
		}
		if err := alphaSet(settings, f.name, "providers[0]."+f.path, f.vals...); err != nil {
			return err
		}
	}
	return nil
}

// alphaSet records an alpha config value under a legacy option's name, refusing one set both ways.
func alphaSet(settings map[string]setting, name, path string, vals ...string) error {
	if prev, ok := settings[name]; ok {
		return fmt.Errorf("%w: alpha config %s and %s (%s) set the same thing; oauth2-proxy refuses that as well", ErrInput, path, name, prev.source)
	}
	settings[name] = setting{name: name, source: "alpha config " + path, vals: vals}
	return nil
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func flag(b *bool) []string {
	if b == nil {
		return nil
	}
	return []string{strconv.FormatBool(*b)}
}

// headerVals describes an injected header for applyAlpha: its kind, then its name.
func headerVals(h alphaHeader, response bool) []string {
	kind := "other"
	for _, v := range h.Values {
		cs := v.ClaimSource
		switch {
		case cs == nil:
			kind = "secret"
		case cs.BasicAuthPassword.Kind != 0:
			kind = "basic"
		case cs.Claim == "access_token" && strings.EqualFold(h.Name, "Authorization") && cs.Prefix == "Bearer ":
			kind = "bearer-access"
		case cs.Claim == "access_token":
			kind = "access-elsewhere"
		case cs.Claim == "id_token":
			kind = "id-token"
		}
	}
	side := "request"
	if response {
		side = "response"
	}
	return []string{kind, side, h.Name, strconv.FormatBool(h.PreserveRequestValue)}
}
