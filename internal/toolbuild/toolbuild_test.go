package toolbuild_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/internal/toolbuild"
)

// toolModule writes a tool module that pins example.com/hello at version, served from a local directory
// (no network), whose main prints greeting.
func toolModule(t *testing.T, version, greeting string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"tools/go.mod": "module tools\n\ngo 1.26\n\nrequire example.com/hello " + version + "\n\nreplace example.com/hello " +
			version + " => ../hello\n",
		"hello/go.mod":  "module example.com/hello\n\ngo 1.26\n",
		"hello/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(" + greeting + ") }\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return filepath.Join(dir, "tools")
}

func run(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).Output()
	require.NoError(t, err)
	return string(out)
}

func TestPath(t *testing.T) {
	cache := t.TempDir()
	tool := toolbuild.Tool{Name: "hello", Dir: toolModule(t, "v1.2.3", `"hi"`), Module: "example.com/hello",
		Pkg: "example.com/hello", Flags: []string{"-trimpath"}, Env: []string{"CGO_ENABLED=0"}, CacheDir: cache}

	bin, err := tool.Path()
	require.NoError(t, err)
	require.Equal(t, cache, filepath.Dir(bin))
	require.Regexp(t, `^hello-v1\.2\.3-[0-9a-f]{16}$`, filepath.Base(bin), "named by the pinned version and the module's hash")
	require.Equal(t, "hi", run(t, bin))
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	t.Run("an unchanged module is not built again", func(t *testing.T) {
		// The cached file is what Path returns, whatever it holds: replaced by a script, it is not rebuilt.
		require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nprintf cached\n"), 0o755))
		again, err := tool.Path()
		require.NoError(t, err)
		require.Equal(t, bin, again)
		require.Equal(t, "cached", run(t, again))
	})

	t.Run("a changed module builds anew", func(t *testing.T) {
		changed := tool
		changed.Dir = toolModule(t, "v1.2.3", `"hello"`)
		mod := filepath.Join(changed.Dir, "go.mod")
		b, err := os.ReadFile(mod)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(mod, append(b, "// a comment changes the pin's hash\n"...), 0o644))
		other, err := changed.Path()
		require.NoError(t, err)
		require.NotEqual(t, bin, other)
		require.Equal(t, "hello", run(t, other))
	})
}

func TestPathErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*toolbuild.Tool)
		want []string
	}{
		{"no tool module", func(tl *toolbuild.Tool) { tl.Dir = t.TempDir() }, []string{"read tool module"}},
		{"module not pinned", func(tl *toolbuild.Tool) { tl.Module = "example.com/other" }, []string{"does not require example.com/other"}},
		{"does not compile", func(tl *toolbuild.Tool) {
			require.NoError(t, os.WriteFile(filepath.Join(tl.Dir, "..", "hello", "main.go"), []byte("package main\n\nfunc main() { undefinedName() }\n"), 0o644))
		}, []string{"build hello: exit status 1", "undefined: undefinedName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			tool := toolbuild.Tool{Name: "hello", Dir: toolModule(t, "v1.0.0", `"hi"`), Module: "example.com/hello",
				Pkg: "example.com/hello", CacheDir: cache}
			tt.edit(&tool)
			_, err := tool.Path()
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			entries, err := os.ReadDir(cache)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing cached after a failure")
		})
	}
}

func TestTail(t *testing.T) {
	err := errors.New("build traefik: exit status 1\n" + strings.Repeat("x", 100) + "\nthe reason\n")
	require.Equal(t, "…x\nthe reason", toolbuild.Tail(err, 12))
	require.Equal(t, "short", toolbuild.Tail(errors.New("short\n"), 12))
}
