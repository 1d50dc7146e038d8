package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Route is one entry of policy.routes: which requests it matches (host, path, methods, or the name a
// gateway selects it by) and what it requires of them. Routes are tried in file order and the first that
// matches decides; a request that matches none is held to policy.email_domains and policy.groups.
type Route struct {
	// Name (name) lets a gateway select the route: Envoy's per-route context extension authbridge_route,
	// or forward-auth's /auth?route=NAME and /oauth2/auth?route=NAME. Letters, digits, '.', '_' and '-';
	// unique. A route without host, path and methods is selected only by name.
	Name string `yaml:"name"`
	// Host (host) is an exact host name, or *.example.com for every subdomain of example.com; omitted,
	// any host. Compared without port, trailing dot or case.
	Host string `yaml:"host"`
	// Path (path) is a prefix of the normalised request path, segment by segment: /api matches /api and
	// /api/x, not /apix. Omitted, any path. Case-sensitive.
	Path string `yaml:"path"`
	// Methods (methods) the route matches, upper case (GET, POST, ...); omitted, any. HEAD is not implied by GET.
	Methods []string `yaml:"methods"`
	// Groups (groups): the user needs one of these (from oidc.groups_claim).
	Groups []string `yaml:"groups"`
	// Emails (emails): the user's verified address is one of these, or (with EmailDomains) at one of those.
	Emails []string `yaml:"emails"`
	// EmailDomains (email_domains): the user's verified address is @ exactly one of these domains.
	EmailDomains []string `yaml:"email_domains"`
	// Claims (claims) maps an ID-token claim to the values allowed: every listed claim must hold one of
	// them. A claim may be a string or a list of strings (Auth0 namespaced claims such as
	// https://example.com/roles); a number, boolean or object never matches.
	Claims map[string][]string `yaml:"claims"`
	// Public (public) lets the matching requests through without login and with no identity upstream;
	// it cannot be combined with groups, emails, email_domains, claims or headers.
	Public bool `yaml:"public"`
	// Headers (headers) maps an upstream header to the claim whose values (a string, or a list of
	// strings comma-joined) it carries on an allowed request; "groups" stands for the user's groups. A
	// name is letters, digits and '-', an identity header (X-Auth-Request-Groups, Remote-Groups...) or an
	// X- header, and not Authorization, Cookie, Host, a hop-by-hop field or X-Auth-Request-User/-Email.
	Headers map[string]string `yaml:"headers"`
}

// routesKey is the one key of type []Route.
const routesKey = "policy.routes"

var (
	routesType = reflect.TypeFor[[]Route]()
	claimsType = reflect.TypeFor[map[string][]string]()
)

// routeLabel names route i in messages: policy.routes[2], with its name in parentheses when it has one.
func routeLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", routesKey, i)
	}
	return fmt.Sprintf("%s[%d] (%s)", routesKey, i, name)
}

// decodeRoutes sets v (a []Route) from the sequence node n, strictly: an unknown or duplicate key in a
// route is an error naming the route, as is a value of the wrong shape.
func decodeRoutes(n *yaml.Node, v reflect.Value) []error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return []error{at(n, fmt.Errorf("%w: %s: want a list of routes", ErrInvalidValue, routesKey))}
	}
	routes := make([]Route, 0, len(n.Content))
	var errs []error
	for i, item := range n.Content {
		item = deref(item)
		var r Route
		if item.Kind != yaml.MappingNode {
			errs = append(errs, at(item, fmt.Errorf("%w: %s: want a mapping of keys", ErrInvalidValue, routeLabel(i, ""))))
			continue
		}
		label := routeLabel(i, scalarOf(item, "name"))
		rv := reflect.ValueOf(&r).Elem()
		seen := map[string]int{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			kn, vn := deref(item.Content[j]), deref(item.Content[j+1])
			idx, known := fieldByYAMLName(rv.Type(), kn.Value)
			first, dup := seen[kn.Value]
			switch {
			case kn.Kind != yaml.ScalarNode || !known:
				errs = append(errs, at(kn, fmt.Errorf("%w: %s: %s", ErrUnknownKey, label, kn.Value)))
				continue
			case dup:
				errs = append(errs, at(kn, fmt.Errorf("%w: %s: %s: duplicate key (first at line %d)", ErrInvalidValue, label, kn.Value, first)))
				continue
			}
			seen[kn.Value] = kn.Line
			fv := rv.Field(idx)
			var err error
			if fv.Type() == claimsType {
				err = decodeClaims(vn, fv)
			} else {
				err = decodeLeaf(vn, fv)
			}
			if err != nil {
				errs = append(errs, at(vn, fmt.Errorf("%w: %s: %s: %w", ErrInvalidValue, label, kn.Value, err)))
			}
		}
		routes = append(routes, r)
	}
	v.Set(reflect.ValueOf(routes))
	return errs
}

// scalarOf returns the plain value of key in mapping m, or "".
func scalarOf(m *yaml.Node, key string) string {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if k, v := deref(m.Content[j]), deref(m.Content[j+1]); k.Value == key && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// decodeClaims sets v (a map[string][]string) from a mapping of claim names to a string or a list of
// strings. A value YAML reads as a number or boolean is refused: token claims of those types never match.
func decodeClaims(n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return errors.New("want a mapping of claim names to allowed values")
	}
	m := make(map[string][]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("claim name at line %d is not a plain name", k.Line)
		}
		if _, dup := m[k.Value]; dup {
			return fmt.Errorf("claim %q twice (line %d)", k.Value, k.Line)
		}
		items := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			items = val.Content
		}
		vals := make([]string, 0, len(items))
		for _, it := range items {
			it = deref(it)
			if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!str" {
				return fmt.Errorf("claim %q: value at line %d is not a string (a token's number or boolean claim never matches; quote it if the claim holds that text)", k.Value, it.Line)
			}
			vals = append(vals, it.Value)
		}
		m[k.Value] = vals
	}
	v.Set(reflect.ValueOf(m))
	return nil
}

// setRoutesFromEnv parses AUTHBRIDGE_POLICY_ROUTES: the list in YAML flow syntax (JSON works too), e.g.
// [{name: admin, host: admin.example.com, groups: [admin]}].
func setRoutesFromEnv(v reflect.Value, s string) error {
	if strings.TrimSpace(s) == "" {
		v.Set(reflect.ValueOf([]Route{}))
		return nil
	}
	root, err := parseYAML([]byte(s))
	if err != nil {
		return err
	}
	return errors.Join(decodeRoutes(root, v)...)
}

// routeMethods are the methods a route may name.
var routeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

func (c *Config) validatePolicy(p *problems) {
	for _, d := range c.Policy.EmailDomains {
		if !isDomain(d) {
			p.invalid("policy.email_domains", "%q is not a domain; write example.com, without @", d)
		}
	}
	for _, g := range c.Policy.Groups {
		if strings.TrimSpace(g) == "" {
			p.invalid("policy.groups", "empty group name")
		}
	}
	names := map[string]int{}
	for i := range c.Policy.Routes {
		r := &c.Policy.Routes[i]
		label := routeLabel(i, r.Name)
		if r.Name != "" {
			if !isRouteName(r.Name) {
				p.invalid(label, "name %q: use letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit)", r.Name)
			}
			if j, dup := names[r.Name]; dup {
				p.invalid(label, "name also used by %s", routeLabel(j, r.Name))
			}
			names[r.Name] = i
		}
		validateMatch(p, label, r)
		validateRequirements(p, label, r)
	}
}

func validateMatch(p *problems, label string, r *Route) {
	if r.Host == "" && r.Path == "" && len(r.Methods) == 0 && r.Name == "" {
		p.invalid(label, "needs host, path, methods, or a name for a gateway to select it by: without any it would match every request (write path: / for a catch-all)")
	}
	if r.Host != "" && !isDomain(strings.TrimPrefix(strings.TrimSuffix(r.Host, "."), "*.")) {
		p.invalid(label, "host %q is not a host name: write admin.example.com, or *.example.com for its subdomains (no scheme, port or path)", r.Host)
	}
	if r.Path != "" && !isNormalPath(r.Path) {
		p.invalid(label, "path %q must be a normalised path starting with / (no //, . or .. segments, %%-escapes, ;, ?, # or \\)", r.Path)
	}
	for j, m := range r.Methods {
		switch {
		case !slices.Contains(routeMethods, m):
			p.invalid(label, "method %q is not one of %s", m, strings.Join(routeMethods, ", "))
		case slices.Contains(r.Methods[:j], m):
			p.invalid(label, "method %s listed twice", m)
		}
	}
}

func validateRequirements(p *problems, label string, r *Route) {
	if r.Public && (len(r.Groups) > 0 || len(r.Emails) > 0 || len(r.EmailDomains) > 0 || len(r.Claims) > 0) {
		p.invalid(label, "public: true cannot be combined with groups, emails, email_domains or claims: a public route lets everyone in")
	}
	if r.Public && len(r.Headers) > 0 {
		p.invalid(label, "public: true cannot be combined with headers: a public route sends no identity upstream")
	}
	validateHeaders(p, label, r.Headers)
	for _, g := range r.Groups {
		if strings.TrimSpace(g) == "" {
			p.invalid(label, "groups: empty group name")
		}
	}
	for _, e := range r.Emails {
		if !isEmail(e) {
			p.invalid(label, "emails: %q is not an e-mail address such as alice@example.com", e)
		}
	}
	for _, d := range r.EmailDomains {
		if !isDomain(d) {
			p.invalid(label, "email_domains: %q is not a domain; write example.com, without @", d)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Claims)) {
		vals := r.Claims[name]
		switch {
		case strings.TrimSpace(name) == "":
			p.invalid(label, "claims: empty claim name")
		case name == "email" || name == "email_verified":
			p.invalid(label, "claims: %q cannot be required as a claim: it holds unverified addresses too; use emails or email_domains, which count only verified ones", name)
		case len(vals) == 0:
			p.invalid(label, "claims: %q needs at least one allowed value", name)
		case slices.Contains(vals, ""):
			p.invalid(label, "claims: %q has an empty value", name)
		}
	}
}

// isRouteName reports whether s can name a route in a gateway's config (a query value, a context
// extension): a letter or digit, then letters, digits, '.', '_' or '-'.
func isRouteName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// isNormalPath reports whether s is a path that request paths normalise to: it starts with "/", has no
// empty, "." or ".." segments (a trailing slash aside), and none of the characters that normalisation
// decodes or refuses.
func isNormalPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "%;?#\\") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	if s == "/" {
		return true
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(s[1:], "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// isEmail reports whether s is a bare address: one @, a local part without spaces, quotes, angle
// brackets or control characters, and a domain name.
func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.Contains(domain, "@") || !isDomain(domain) {
		return false
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"<>()[]\,;:@`, r) {
			return false
		}
	}
	return true
}

// reservedHeaders may not be set by a route: authbridge's own upstream headers, and fields that frame or
// describe the request (hop-by-hop fields of RFC 9110 7.6.1 among them). pkg/authz refuses them too, and
// also a name that is neither an X- header nor an identity header it knows.
var reservedHeaders = []string{
	"authorization", "cookie", "host", "x-auth-request-user", "x-auth-request-email",
	"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
	"te", "trailer", "transfer-encoding", "upgrade", "content-length", "x-forwarded-for",
	"x-forwarded-host", "x-forwarded-proto", "x-forwarded-uri", "x-forwarded-method", "x-original-url",
}

// validateHeaders checks a route's headers: names as HTTP/1 and HTTP/2 spell them alike (letters,
// digits, '-'), none reserved or given twice in another case, and each a claim to read.
func validateHeaders(p *problems, label string, h map[string]string) {
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		lower := strings.ToLower(name)
		switch {
		case !isHeaderName(name):
			p.invalid(label, "headers: %q is not a header name: use letters, digits and '-' (at most 64)", name)
		case slices.Contains(reservedHeaders, lower):
			p.invalid(label, "headers: %q cannot be set by a route: authbridge sets it, or it frames or describes the request", name)
		case seen[lower] != "":
			p.invalid(label, "headers: %q and %q are the same header", seen[lower], name)
		}
		seen[lower] = name
		switch src := h[name]; {
		case strings.TrimSpace(src) == "":
			p.invalid(label, "headers: %q needs a claim name (or groups)", name)
		case src == "email" || src == "email_verified":
			p.invalid(label, "headers: %q: claim %q holds unverified addresses too; X-Auth-Request-Email carries the verified one", name, src)
		}
	}
}

// isHeaderName reports whether s is 1 to 64 letters, digits and '-', neither first nor last a '-'.
func isHeaderName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
