package charts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// crdSource names an upstream CustomResourceDefinition inside a Go module's source, so that it is
// fetched (and checksum-verified) through the Go module proxy like any dependency.
type crdSource struct {
	module string // module path@version; a bare path takes the version in authbridge's go.mod
	file   string // path of the CRD manifest inside the module
	name   string // metadata.name of the CRD
}

// crdSources are the schemas the chart's custom resources are checked against, by apiVersion/kind.
var crdSources = map[string]crdSource{
	"security.istio.io/v1/AuthorizationPolicy": {
		"istio.io/api", "kubernetes/customresourcedefinitions.gen.yaml", "authorizationpolicies.security.istio.io"},
	"traefik.io/v1alpha1/Middleware": {
		"github.com/traefik/traefik/v3@v3.7.13", "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml",
		"middlewares.traefik.io"},
	"monitoring.coreos.com/v1/ServiceMonitor": {
		"github.com/prometheus-operator/prometheus-operator@v0.90.1",
		"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml", "servicemonitors.monitoring.coreos.com"},
}

// crdSchemas caches each loaded schema for the test binary: the files are large (Istio's holds every
// Istio CRD) and the module download happens once.
var crdSchemas sync.Map // apiVersion/kind → func() (map[string]any, error)

// crdSchema returns the openAPIV3Schema of the CRD version serving gvk ("group/version/Kind").
func crdSchema(t *testing.T, gvk string) map[string]any {
	t.Helper()
	src, ok := crdSources[gvk]
	require.True(t, ok, "no CRD schema known for %s: add it to crdSources", gvk)
	load, _ := crdSchemas.LoadOrStore(gvk, sync.OnceValues(func() (map[string]any, error) { return loadCRD(src, gvk) }))
	s, err := load.(func() (map[string]any, error))()
	require.NoError(t, err)
	return s
}

func loadCRD(src crdSource, gvk string) (map[string]any, error) {
	cmd := exec.Command("go", "mod", "download", "-json", src.module)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("download %s: %w: %s %s", src.module, err, out, stderrOf(err))
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Error != "" {
		return nil, fmt.Errorf("download %s: %v %s", src.module, err, m.Error)
	}
	b, err := os.ReadFile(filepath.Join(m.Dir, src.file))
	if err != nil {
		return nil, fmt.Errorf("read CRD: %w", err)
	}
	version := strings.Split(gvk, "/")[1]
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var crd struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				Versions []struct {
					Name   string
					Served bool
					Schema struct {
						OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := dec.Decode(&crd); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("parse %s: %w", src.file, err)
		}
		if crd.Kind != "CustomResourceDefinition" || crd.Metadata.Name != src.name {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == version && v.Served {
				return v.Schema.OpenAPIV3Schema, nil
			}
		}
		return nil, fmt.Errorf("CRD %s does not serve version %s", src.name, version)
	}
	return nil, fmt.Errorf("CRD %s not found in %s", src.name, src.file)
}

// schemaIgnored are keywords that do not constrain the shape of a value here. x-kubernetes-validations
// (CEL rules) would need the API server's CEL environment; the templates keep those rules by
// construction (e.g. Istio's selector/targetRefs exclusivity is a template failure).
var schemaIgnored = []string{"description", "format", "default", "example", "title", "nullable",
	"x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
	"x-kubernetes-embedded-resource"}

// validateSchema checks v (decoded with json.Decoder.UseNumber) against a structural OpenAPI v3 schema
// as the API server does with strict field validation: wrong types, missing required fields, values
// outside enum, pattern or bounds, and fields the schema does not declare are all reported, one line
// each. strict is false inside anyOf/oneOf/not branches, which only add constraints to fields declared
// elsewhere.
func validateSchema(s map[string]any, v any, path string, strict bool) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(schemaIgnored, k) && !slices.Contains(schemaKnown, k) {
			bad("schema keyword %q is not supported by this checker", k)
		}
	}
	typ, hasType := s["type"].(string)
	intOrString := s["x-kubernetes-int-or-string"] == true
	if intOrString {
		typ = "int-or-string"
	}
	if (hasType || intOrString) && !typeMatches(typ, v) {
		bad("want %s, got %T", typ, v)
		return errs
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		bad("%v is not one of %v", v, e)
	}
	errs = append(errs, checkBounds(s, v, path)...)
	switch val := v.(type) {
	case map[string]any:
		errs = append(errs, validateObject(s, val, path, strict)...)
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, item := range val {
				errs = append(errs, validateSchema(items, item, fmt.Sprintf("%s[%d]", path, i), strict)...)
			}
		}
	}
	errs = append(errs, validateCombinators(s, v, path)...)
	return errs
}

var schemaKnown = []string{"type", "properties", "additionalProperties", "required", "items", "enum", "pattern",
	"minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties",
	"anyOf", "oneOf", "allOf", "not", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"}

func typeMatches(typ string, v any) bool {
	n, isNum := v.(json.Number)
	isInt := false
	if isNum {
		_, err := n.Int64()
		isInt = err == nil
	}
	switch typ {
	case "int-or-string":
		_, isStr := v.(string)
		return isStr || isInt
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		return isInt
	case "number":
		return isNum
	}
	return false
}

func validateObject(s map[string]any, obj map[string]any, path string, strict bool) []string {
	var errs []string
	props, _ := s["properties"].(map[string]any)
	for _, r := range asStrings(s["required"]) {
		if _, ok := obj[r]; !ok {
			errs = append(errs, fmt.Sprintf("%s: required field %q is missing", path, r))
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ps, ok := props[k].(map[string]any); ok {
			errs = append(errs, validateSchema(ps, obj[k], path+"."+k, strict)...)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case map[string]any:
			errs = append(errs, validateSchema(ap, obj[k], path+"."+k, strict)...)
		case bool:
			if !ap {
				errs = append(errs, fmt.Sprintf("%s: unknown field %q", path, k))
			}
		default:
			if strict && s["x-kubernetes-preserve-unknown-fields"] != true {
				errs = append(errs, fmt.Sprintf("%s: unknown field %q", path, k))
			}
		}
	}
	return errs
}

func validateCombinators(s map[string]any, v any, path string) []string {
	var errs []string
	branches := func(key string) (valid int, total int) {
		list, _ := s[key].([]any)
		for _, b := range list {
			if len(validateSchema(b.(map[string]any), v, path, false)) == 0 {
				valid++
			}
		}
		return valid, len(list)
	}
	if n, total := branches("anyOf"); total > 0 && n == 0 {
		errs = append(errs, path+": matches none of anyOf")
	}
	if n, total := branches("oneOf"); total > 0 && n != 1 {
		errs = append(errs, fmt.Sprintf("%s: matches %d of oneOf, want exactly 1", path, n))
	}
	if n, total := branches("allOf"); n != total {
		errs = append(errs, path+": fails allOf")
	}
	if not, ok := s["not"].(map[string]any); ok && len(validateSchema(not, v, path, false)) == 0 {
		errs = append(errs, path+": matches a schema under not")
	}
	return errs
}

func checkBounds(s map[string]any, v any, path string) []string {
	var errs []string
	num := func(key string) (float64, bool) {
		switch x := s[key].(type) {
		case int:
			return float64(x), true
		case float64:
			return x, true
		}
		return 0, false
	}
	length := -1
	switch val := v.(type) {
	case string:
		length = len([]rune(val))
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: schema pattern %q does not compile: %v", path, p, err))
			} else if !re.MatchString(val) {
				errs = append(errs, fmt.Sprintf("%s: %q does not match %s", path, val, p))
			}
		}
		errs = append(errs, lengthErrs(num, "minLength", "maxLength", length, path)...)
	case []any:
		errs = append(errs, lengthErrs(num, "minItems", "maxItems", len(val), path)...)
	case map[string]any:
		errs = append(errs, lengthErrs(num, "minProperties", "maxProperties", len(val), path)...)
	case json.Number:
		f, _ := val.Float64()
		if lo, ok := num("minimum"); ok && f < lo {
			errs = append(errs, fmt.Sprintf("%s: %v is below the minimum %v", path, f, lo))
		}
		if hi, ok := num("maximum"); ok && f > hi {
			errs = append(errs, fmt.Sprintf("%s: %v is above the maximum %v", path, f, hi))
		}
	}
	return errs
}

func lengthErrs(num func(string) (float64, bool), minKey, maxKey string, n int, path string) []string {
	var errs []string
	if lo, ok := num(minKey); ok && float64(n) < lo {
		errs = append(errs, fmt.Sprintf("%s: length %d is below %s %v", path, n, minKey, lo))
	}
	if hi, ok := num(maxKey); ok && float64(n) > hi {
		errs = append(errs, fmt.Sprintf("%s: length %d is above %s %v", path, n, maxKey, hi))
	}
	return errs
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestSchemaValidator checks the checker itself on a small schema, so that a pass against the real
// CRDs means something.
func TestSchemaValidator(t *testing.T) {
	schema := map[string]any{
		"type": "object", "required": []any{"name"},
		"properties": map[string]any{
			"name":   map[string]any{"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
			"mode":   map[string]any{"type": "string", "enum": []any{"A", "B"}},
			"port":   map[string]any{"x-kubernetes-int-or-string": true},
			"labels": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			"extra":  map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
			"list":   map[string]any{"type": "array", "maxItems": 1, "items": map[string]any{"type": "integer"}},
		},
		"oneOf": []any{
			map[string]any{"not": map[string]any{"anyOf": []any{map[string]any{"required": []any{"mode"}}}}},
			map[string]any{"required": []any{"mode"}},
		},
	}
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"valid", `{"name":"ab","mode":"A","port":"http","labels":{"a":"b"},"extra":{"x":1},"list":[1]}`, ""},
		{"int port", `{"name":"ab","port":80}`, ""},
		{"unknown field", `{"name":"ab","nmae":"x"}`, `unknown field "nmae"`},
		{"missing required", `{"mode":"A"}`, `required field "name"`},
		{"enum", `{"name":"ab","mode":"C"}`, "is not one of"},
		{"pattern", `{"name":"AB"}`, "does not match"},
		{"maxLength", `{"name":"abcdef"}`, "maxLength"},
		{"type", `{"name":"ab","list":["x"]}`, "want integer"},
		{"maxItems", `{"name":"ab","list":[1,2]}`, "maxItems"},
		{"map value type", `{"name":"ab","labels":{"a":1}}`, "want string"},
		{"bool port", `{"name":"ab","port":true}`, "want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateSchema(schema, decodeJSON(t, []byte(tt.doc)), "spec", true)
			if tt.wantErr == "" {
				require.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs)
			require.Contains(t, strings.Join(errs, "\n"), tt.wantErr)
		})
	}
}

// decodeJSON decodes b keeping numbers as json.Number, as validateSchema expects.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}
