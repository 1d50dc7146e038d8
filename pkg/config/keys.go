package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// field is one leaf key of Config, found by reflecting over the yaml tags, so that the YAML keys, the
// environment variables and Reference can never drift apart.
type field struct {
	key   string // dotted YAML path, e.g. session.cookie.name
	env   string // e.g. AUTHBRIDGE_SESSION_COOKIE_NAME
	index []int  // for reflect.Value.FieldByIndex from Config
	typ   reflect.Type
	doc   string // the key's help, from the field's doc tag: the one text of it (Reference, README)
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	secretType    = reflect.TypeFor[Secret]()
	stringsType   = reflect.TypeFor[[]string]()
	stringMapType = reflect.TypeFor[map[string]string]()
)

// fields lists every leaf key of Config in declaration order.
func fields() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name := yamlName(sf)
			if name == "" {
				continue
			}
			key := prefix + name
			idx := append(slices.Clone(index), i)
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, key+".", idx)
				continue
			}
			if kindOf(sf.Type) == "" {
				// Only reachable by adding a field of a new type to Config; the tests catch it.
				panic(fmt.Sprintf("config: key %s has unsupported type %s", key, sf.Type))
			}
			env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			out = append(out, field{key: key, env: env, index: idx, typ: sf.Type, doc: sf.Tag.Get("doc")})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// yamlName returns the key of a struct field, or "" for a field without one (yaml:"-").
func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "-" || !sf.IsExported() {
		return ""
	}
	return name
}

// fieldByYAMLName returns the index of t's field whose key is name.
func fieldByYAMLName(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// kindOf names the value syntax of a leaf type, or "" if the type is not supported.
func kindOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == secretType:
		return "secret"
	case t == stringsType:
		return "list"
	case t == stringMapType:
		return "map"
	case t == routesType:
		return "routes"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Int:
		return "integer"
	}
	return ""
}

// parseScalar parses s as a value of the scalar type t. Its errors may quote s, so it must never fail for
// a Secret (it does not: any string is a valid Secret).
func parseScalar(t reflect.Type, s string) (reflect.Value, error) {
	switch kindOf(t) {
	case "duration":
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want a duration such as 30s, 10m or 24h, got %q", s)
		}
		return reflect.ValueOf(d), nil
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want true or false, got %q", s)
		}
		return reflect.ValueOf(b), nil
	case "integer":
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want a whole number, got %q", s)
		}
		return reflect.ValueOf(n), nil
	case "string", "secret":
		return reflect.ValueOf(s).Convert(t), nil
	}
	return reflect.Value{}, errors.New("want a single value")
}

// setFromEnv parses an environment variable's value into v: lists are comma-separated, maps are
// k=v pairs separated by commas, routes a YAML flow list; an empty value sets an empty list or map.
func setFromEnv(v reflect.Value, s string) error {
	switch v.Type() {
	case routesType:
		return setRoutesFromEnv(v, s)
	case stringsType:
		v.Set(reflect.ValueOf(splitList(s)))
		return nil
	case stringMapType:
		m := map[string]string{}
		for _, kv := range splitList(s) {
			k, val, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return fmt.Errorf("want k=v pairs separated by commas, got %q", kv)
			}
			if _, dup := m[k]; dup {
				return fmt.Errorf("duplicate key %q", k)
			}
			m[k] = strings.TrimSpace(val)
		}
		v.Set(reflect.ValueOf(m))
		return nil
	}
	pv, err := parseScalar(v.Type(), s)
	if err != nil {
		return err
	}
	v.Set(pv)
	return nil
}

func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// applyEnv overrides c with every AUTHBRIDGE_* variable in environ (KEY=VALUE entries, as os.Environ).
// A set variable wins even when empty. An AUTHBRIDGE_* variable that names no key is an error, unless it
// is a Kubernetes service link: those are listed in c.IgnoredEnv.
func (c *Config) applyEnv(environ []string) []error {
	byEnv := map[string]field{}
	for _, f := range fields() {
		byEnv[f.env] = f
	}
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, ok := byEnv[name]
		if !ok && isServiceLink(name, val) {
			c.IgnoredEnv = append(c.IgnoredEnv, name)
			continue
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%w: environment variable %s matches no key", ErrUnknownKey, name))
			continue
		}
		if err := setFromEnv(root.FieldByIndex(f.index), val); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s (from %s): %w", ErrInvalidValue, f.key, f.env, err))
		}
	}
	return errs
}

// KeyDoc describes one configuration key, for the README and --help.
type KeyDoc struct {
	Key     string // dotted YAML key, e.g. session.cookie.name
	Env     string // environment variable, e.g. AUTHBRIDGE_SESSION_COOKIE_NAME
	Kind    string // string, secret, bool, duration, list (comma-separated in env), map (k=v,k2=v2 in env) or routes (a YAML flow list in env)
	Default string // the default in env syntax; empty when there is none
	Doc     string // one line
}

// Reference lists every key in declaration order. Each key's help is its Config field's doc tag, the
// only place it is written; the README's table is this list, rendered (a test keeps them equal).
func Reference() []KeyDoc {
	def := reflect.ValueOf(Default()).Elem()
	var out []KeyDoc
	for _, f := range fields() {
		d := KeyDoc{Key: f.key, Env: f.env, Kind: kindOf(f.typ), Default: formatDefault(def.FieldByIndex(f.index)), Doc: f.doc}
		if f.key == "session.cookie.name" {
			d.Default = HostCookieName + " (" + PlainCookieName + " with a domain or secure false)"
		}
		out = append(out, d)
	}
	return out
}

func formatDefault(v reflect.Value) string {
	switch v.Type() {
	case secretType, routesType:
		return ""
	case durationType:
		return fmtDuration(time.Duration(v.Int()))
	case stringsType:
		return strings.Join(v.Interface().([]string), ",")
	case stringMapType:
		m := v.Interface().(map[string]string)
		var kv []string
		for k, val := range m {
			kv = append(kv, k+"="+val)
		}
		slices.Sort(kv)
		return strings.Join(kv, ",")
	case reflect.TypeFor[bool]():
		return strconv.FormatBool(v.Bool())
	case reflect.TypeFor[int]():
		return strconv.FormatInt(v.Int(), 10)
	}
	return v.String()
}

// fmtDuration formats d as time.Duration.String does, less its zero units: 24h, not 24h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
