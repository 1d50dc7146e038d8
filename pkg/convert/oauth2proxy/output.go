package oauth2proxy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// outputKeys are the authbridge keys the converter writes, in the order they appear in the output (the
// order of pkg/config's reference).
func outputKeys() []string {
	return []string{
		"oidc.issuer_url", "oidc.client_id", "oidc.client_secret_file", "oidc.redirect_url", "oidc.scopes",
		"oidc.extra_auth_params", "oidc.groups_claim",
		"session.store", "session.redis.url", "session.redis.addrs", "session.redis.master_name",
		"session.cookie.domain", "session.idle_timeout", "session.max_lifetime", "session.login_timeout",
		"listen.http", "listen.admin",
		"redirect.allowed_domains",
		"policy.email_domains", "policy.groups",
	}
}

// output is the authbridge configuration being built: values by dotted key.
type output struct{ vals map[string]any }

func newOutput() *output { return &output{vals: map[string]any{}} }

// set records v (a string, []string or map[string]string) under key, which must be one of outputKeys.
func (o *output) set(key string, v any) {
	if !slices.Contains(outputKeys(), key) {
		panic("oauth2proxy: no output key " + key) // a mistake in this package, caught by its tests
	}
	o.vals[key] = v
}

func (o *output) get(key string) string {
	s, _ := o.vals[key].(string)
	return s
}

// marshal writes the YAML: a header, then the keys nested by their dots, in outputKeys order.
func (o *output) marshal() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, key := range outputKeys() {
		v, ok := o.vals[key]
		if !ok {
			continue
		}
		parts := strings.Split(key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			m = child(m, p)
		}
		val := &yaml.Node{}
		if err := val.Encode(sorted(v)); err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: parts[len(parts)-1]}, val)
	}
	var b bytes.Buffer
	b.WriteString("# authbridge configuration converted from oauth2-proxy by `authbridge convert oauth2-proxy`.\n" +
		"# Secrets are never written here: set them as the notes of the conversion say. Check with\n" +
		"# `authbridge check-config --config <this file>`.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return b.Bytes(), enc.Close()
}

// child returns the mapping under key in m, adding it when absent.
func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	c := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, c)
	return c
}

// sorted makes a map's encoding stable (yaml.v3 sorts maps itself; this keeps it explicit for lists of
// pairs as well).
func sorted(v any) any {
	if m, ok := v.(map[string]string); ok {
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: m[k], Tag: "!!str"})
		}
		return n
	}
	return v
}
