package oauth2proxy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// setting is one option as the winning source gave it.
type setting struct {
	name   string   // config-file key
	source string   // "config file", "env OAUTH2_PROXY_X", "flag --x", "alpha config ..."
	vals   []string // one value for a string, bool or duration; the elements of a list
	opt    Option   // filled by Convert
}

// empty reports whether the setting holds nothing (an empty string or list, or false).
func (s setting) empty() bool {
	for _, v := range s.vals {
		if v != "" && v != "false" {
			return false
		}
	}
	return true
}

func (s setting) str() string {
	if len(s.vals) == 0 {
		return ""
	}
	return s.vals[0]
}

// boolean is the setting's value as a bool; ok is false when it does not parse.
func (s setting) boolean() (v, ok bool) {
	b, err := strconv.ParseBool(s.str())
	return b, err == nil
}

// read gathers every option from the config file, the environment and the flags, each source replacing
// what a weaker one set (flags > env > file), and the alpha config's provider.
func read(in Input) (map[string]setting, error) {
	byFlag := map[string]Option{}
	byName := map[string]Option{}
	for _, o := range Table() {
		byFlag[o.Flag], byName[o.Name] = o, o
	}
	out := map[string]setting{}
	if len(in.ConfigFile) > 0 {
		var m map[string]any
		if _, err := toml.Decode(string(in.ConfigFile), &m); err != nil {
			return nil, inputError("config file", err)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			vals, err := tomlValues(m[k])
			if err != nil {
				return nil, fmt.Errorf("%w: config file: %s: %v", ErrInput, k, err)
			}
			out[k] = setting{name: k, source: "config file", vals: vals}
		}
	}
	for _, kv := range in.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envPrefix) {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(k, envPrefix))
		vals := []string{v}
		if byName[name].kind == list {
			vals = splitList(v)
		}
		out[name] = setting{name: name, source: "env " + k, vals: vals}
	}
	flags, err := parseArgs(in.Args, byFlag)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, flags)
	if len(in.AlphaConfig) > 0 {
		if err := readAlpha(in.AlphaConfig, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tomlValues turns a TOML value into the setting's strings: a string, bool, number or datetime is one
// value, an array of them a list.
func tomlValues(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		vals := make([]string, 0, len(x))
		for _, e := range x {
			s, err := tomlScalar(e)
			if err != nil {
				return nil, err
			}
			vals = append(vals, s)
		}
		return vals, nil
	default:
		s, err := tomlScalar(v)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

func tomlScalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case time.Time:
		return x.Format(time.RFC3339), nil
	}
	return "", fmt.Errorf("a %T is no value of an oauth2-proxy option", v)
}

// parseArgs reads oauth2-proxy's flags (pflag syntax: --name=value, --name value, and a bool flag alone
// meaning true; a single leading dash is accepted as well). A list flag may repeat and holds
// comma-separated values.
func parseArgs(args []string, byFlag map[string]Option) (map[string]setting, error) {
	out := map[string]setting{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return nil, fmt.Errorf("%w: argument %q is not a flag", ErrInput, a)
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "config" || name == "alpha-config" {
			return nil, fmt.Errorf("%w: flag --%s: give the file to convert's own --%s", ErrInput, name, name)
		}
		o, known := byFlag[name]
		if !hasVal {
			if known && o.kind == boolean {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("%w: flag --%s has no value", ErrInput, name)
				}
				i++
				val = args[i]
			}
		}
		key := o.Name
		if !known {
			key = strings.ReplaceAll(name, "-", "_")
		}
		s := out[key]
		s.name, s.source = key, "flag --"+name
		if known && o.kind == list {
			s.vals = append(s.vals, splitList(val)...)
		} else {
			s.vals = []string{val}
		}
		out[key] = s
	}
	return out, nil
}

// splitList splits a list given as one string on commas, trimming spaces, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// unknown returns the settings that no option of Table names, sorted by name.
func unknown(settings map[string]setting) []setting {
	known := map[string]bool{}
	for _, o := range Table() {
		known[o.Name] = true
	}
	var out []setting
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if !known[k] && !strings.HasPrefix(k, alphaPrefix) {
			out = append(out, settings[k])
		}
	}
	return out
}
