package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad checks the config loader on arbitrary files: it returns a config or an error, never both
// and never a panic; an error never quotes a secret given in the file; and an accepted config passes
// Validate again and loads identically from the same bytes.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("oidc:\n  client_secret: \"s3cr3t-value-XYZ\"\n  issuer_url: 1\n"))
	f.Add([]byte("\t- !!binary AAAA\n"))
	dir := f.TempDir()
	const secret = "s3cr3t-value-XYZ"
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, []string{})
		if err != nil {
			if c != nil {
				t.Fatalf("a config and an error: %v", err)
			}
			if strings.Contains(string(b), secret) && strings.Contains(err.Error(), secret) {
				t.Fatalf("error quotes a secret: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded but invalid: %v", err)
		}
		again, err := Load(path, []string{})
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("loads differently the second time (%v)", err)
		}
	})
}
