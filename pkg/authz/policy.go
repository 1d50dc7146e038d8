package authz

import (
	"maps"
	"slices"
	"strings"

	"github.com/authbridge/authbridge/pkg/login"
)

// Policy says who may reach what. Routes are tried in order and the first that matches a request
// decides; a request that matches none is held to the default rule, EmailDomains and Groups. The zero
// Policy lets every logged-in user in.
type Policy struct {
	EmailDomains []string // default rule: if set, the (verified, well-formed) email must be @ exactly one of them
	Groups       []string // default rule: if set, the user must be in at least one
	Routes       []Route
}

// Route is one entry of Policy.Routes: which requests it matches, and what it requires of them.
type Route struct {
	// Name lets a gateway select the route instead of matching it (Request.Route). A route named by the
	// gateway is applied as it is: its Host, Path and Methods are not checked again.
	Name string
	// Host is an exact host name, "*.example.com" for every subdomain of example.com at any depth (not
	// example.com itself), or "" for any host. It is compared without port, trailing dot or ASCII case.
	Host string
	// Path is a prefix of the normalised request path (NormalizePath), segment by segment: "/api" matches
	// /api, /api/ and /api/x, not /apix. "" or "/" matches every path; a trailing slash makes no difference.
	Path string
	// Methods the route matches, upper case; empty for any. HEAD is not implied by GET.
	Methods []string
	// Public lets every request the route matches through without login, with no identity upstream.
	// A public route has no Require.
	Public bool
	// Require is what a logged-in user must satisfy.
	Require Rule
	// Headers maps an upstream header name (CheckHeaderName) to the claim whose values, comma-joined,
	// it carries on an allowed request (GroupsSource for the user's groups). A public route has none.
	Headers map[string]string
}

// NameOnly reports whether the route is selected only by name: it has neither Host, Path nor Methods,
// and so would otherwise match every request. A catch-all route says Path "/".
func (r *Route) NameOnly() bool { return r.Host == "" && r.Path == "" && len(r.Methods) == 0 }

// Rule is what a user must satisfy. Every kind that is set must hold; within a kind one match is
// enough. Emails and EmailDomains are one kind: the verified address must be listed in Emails or be at
// one of EmailDomains. The zero Rule is satisfied by every logged-in user.
type Rule struct {
	Groups       []string            // any of these
	Emails       []string            // any of these verified addresses, compared without regard to ASCII case
	EmailDomains []string            // the verified address is @ exactly one of these
	Claims       map[string][]string // every listed claim holds at least one of its values
}

// Identity is who a request comes from, as the policy sees it: from a session today, and from any other
// verified source (such as an access token's claims) that can fill it.
type Identity struct {
	Subject string
	Email   string // a verified, well-formed address (login.ParseEmail); "" if there is none
	Groups  []string
	// Claims holds the values of the claims that rules name: a string claim is one value, a list of
	// strings its elements. A claim of any other type (number, boolean, object) has no values.
	Claims map[string][]string
}

// rule is a Rule compiled for the hot path: addresses lower-cased, claims in a fixed order.
type rule struct {
	groups       []string
	emails       []string // lower case
	emailDomains []string
	claims       []claimRule // sorted by name
}

type claimRule struct {
	name   string
	values []string
}

func compileRule(r Rule) rule {
	c := rule{groups: r.Groups, emailDomains: r.EmailDomains}
	for _, e := range r.Emails {
		c.emails = append(c.emails, strings.ToLower(e))
	}
	for _, name := range slices.Sorted(maps.Keys(r.Claims)) {
		c.claims = append(c.claims, claimRule{name: name, values: r.Claims[name]})
	}
	return c
}

// empty reports whether the rule requires nothing.
func (r *rule) empty() bool {
	return len(r.groups) == 0 && len(r.emails) == 0 && len(r.emailDomains) == 0 && len(r.claims) == 0
}

// refuse returns why id does not satisfy the rule (its first failing requirement), or "" when it does.
// It does not allocate.
func (r *rule) refuse(id *Identity) string {
	if !r.emailOK(id) {
		if len(r.emails) == 0 {
			return "email domain not allowed"
		}
		return "email not allowed"
	}
	if !r.groupsOK(id) {
		return "not in an allowed group"
	}
	for i := range r.claims {
		if !r.claims[i].ok(id) {
			return "claim not satisfied"
		}
	}
	return ""
}

// emailOK: no address requirement, or the verified address is listed or in a listed domain. The
// address is parsed strictly (login.ParseEmail): "a@evil.com@example.com" is no address at all.
func (r *rule) emailOK(id *Identity) bool {
	if len(r.emails) == 0 && len(r.emailDomains) == 0 {
		return true
	}
	if _, _, ok := login.ParseEmail(id.Email); !ok {
		return false
	}
	if len(r.emailDomains) > 0 && login.EmailInDomains(id.Email, r.emailDomains) {
		return true
	}
	for _, e := range r.emails {
		if equalFold(e, id.Email) { // ASCII case aside, as every mainstream provider treats addresses
			return true
		}
	}
	return false
}

// groupsOK: no group requirement, or the user is in one of the groups.
func (r *rule) groupsOK(id *Identity) bool {
	return len(r.groups) == 0 || anyOf(r.groups, id.Groups)
}

// ok: the claim holds one of the values.
func (c *claimRule) ok(id *Identity) bool { return anyOf(c.values, id.Claims[c.name]) }

// anyOf reports whether have holds one of want; values compare exactly.
func anyOf(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h {
				return true
			}
		}
	}
	return false
}
