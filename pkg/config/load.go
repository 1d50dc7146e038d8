package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Load builds a Config from the YAML file at path ("" means no file), then the AUTHBRIDGE_* variables in
// environ (KEY=VALUE entries as from os.Environ; nil means os.Environ()), then the *_file secrets, and
// validates it. Later sources win: defaults < file < environment.
//
// The file is read strictly: an unknown or duplicate key is an error naming its dotted path, and so is
// an AUTHBRIDGE_* variable that names no key. A problem found in the file (a YAML syntax error, an
// unknown or duplicate key, a value of the wrong type) starts with path:line:column. Load does not stop at the first problem: the
// returned error joins every problem found (errors.Is works with ErrUnknownKey, ErrInvalidValue and
// ErrMissing), and no message holds a secret's value. On success TrustedProxyPrefixes is filled.
func Load(path string, environ []string) (*Config, error) {
	if environ == nil {
		environ = os.Environ()
	}
	c := defaults()
	var errs []error
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		root, err := parseYAML(b)
		if err != nil {
			return nil, inFile(path, []error{err})[0] // nothing past a syntax error can be trusted
		}
		if root != nil {
			errs = append(errs, inFile(path, decodeStruct(root, reflect.ValueOf(c).Elem(), ""))...)
		}
	}
	errs = append(errs, c.applyEnv(environ)...)
	c.resolve()
	errs = append(errs, c.readSecretFiles()...)
	errs = append(errs, c.readTLSFiles()...)
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.TrustedProxyPrefixes = make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		p, _ := parseProxy(s) // valid: validate checked it
		c.TrustedProxyPrefixes = append(c.TrustedProxyPrefixes, p)
	}
	return c, nil
}

// parseYAML returns the root node of the single YAML document in b, or nil for an empty document. The
// tree is walked by decodeStruct rather than decoded with yaml.Decoder.KnownFields, so that errors carry
// the full dotted key and its line.
func parseYAML(b []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file: all defaults
		}
		return nil, syntaxError(b, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file must hold exactly one YAML document", ErrInvalidValue)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// decodeStruct applies mapping node n to the struct v whose keys start with prefix.
func decodeStruct(n *yaml.Node, v reflect.Value, prefix string) []error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		name := prefix
		if name == "" {
			name = "top level"
		}
		return []error{at(n, fmt.Errorf("%w: %s: want a mapping of keys", ErrInvalidValue, trimDot(name)))}
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := deref(n.Content[i]), n.Content[i+1]
		key := prefix + kn.Value
		if kn.Kind != yaml.ScalarNode {
			errs = append(errs, at(kn, fmt.Errorf("%w: %skey is not a plain name", ErrUnknownKey, prefix)))
			continue
		}
		if first, dup := seen[kn.Value]; dup {
			errs = append(errs, at(kn, fmt.Errorf("%w: %s: duplicate key (first at line %d)", ErrInvalidValue, key, first)))
			continue
		}
		seen[kn.Value] = kn.Line
		idx, ok := fieldByYAMLName(v.Type(), kn.Value)
		if !ok {
			errs = append(errs, at(kn, fmt.Errorf("%w: %s", ErrUnknownKey, key)))
			continue
		}
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct {
			errs = append(errs, decodeStruct(vn, fv, key+".")...)
			continue
		}
		if fv.Type() == routesType {
			errs = append(errs, decodeRoutes(vn, fv)...)
			continue
		}
		if err := decodeLeaf(deref(vn), fv); err != nil {
			errs = append(errs, at(vn, fmt.Errorf("%w: %s: %w", ErrInvalidValue, key, err)))
		}
	}
	return errs
}

// decodeLeaf sets the leaf field v from node n; a null node leaves the default in place. Its errors
// never quote the value of a Secret.
func decodeLeaf(n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	switch v.Type() {
	case stringsType:
		if n.Kind != yaml.SequenceNode {
			return errors.New("want a list")
		}
		list := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item = deref(item); item.Kind != yaml.ScalarNode || isNull(item) {
				return fmt.Errorf("list item at line %d is not a plain value", item.Line)
			}
			list = append(list, item.Value)
		}
		v.Set(reflect.ValueOf(list))
		return nil
	case stringMapType:
		if n.Kind != yaml.MappingNode {
			return errors.New("want a mapping")
		}
		m := make(map[string]string, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := deref(n.Content[i]), deref(n.Content[i+1])
			if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
				return fmt.Errorf("entry at line %d is not a plain key: value", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return fmt.Errorf("duplicate key %q at line %d", k.Value, k.Line)
			}
			m[k.Value] = val.Value
		}
		v.Set(reflect.ValueOf(m))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single %s value", kindOf(v.Type()))
	}
	pv, err := parseScalar(v.Type(), n.Value)
	if err != nil {
		return err
	}
	v.Set(pv)
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
