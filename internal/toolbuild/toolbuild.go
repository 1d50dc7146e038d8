// Package toolbuild builds the programs the end-to-end tests drive (Ory Hydra, Traefik) from tool modules
// of their own, once per version, into the user's cache directory.
package toolbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tool is one program built from a tool module: a directory with its own go.mod and go.sum that pins
// the program and its dependencies, apart from the main module's.
type Tool struct {
	Name   string   // start of the binary's name in the cache: "hydra", "traefik"
	Dir    string   // the tool module's directory
	Module string   // the module whose version goes into the binary's name
	Pkg    string   // the package to build
	Flags  []string // more go build flags: -tags, -trimpath
	Env    []string // more environment for go build: CGO_ENABLED
	// CacheDir is where binaries are kept; default the user's cache directory + "/authbridge".
	CacheDir string
}

// Path returns the tool's binary, building it first if the cache has none for the tool module's go.mod and
// go.sum as they are now. The name holds the module's version and a hash of both files, so a changed pin
// builds anew and an unchanged one never does. The build is slow for a big program (minutes on a cold Go
// build cache); a failed one returns an error ending with go build's output.
func (tl Tool) Path() (string, error) {
	bin, err := tl.cachedName()
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("look for cached %s: %w", tl.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	fmt.Fprintf(os.Stderr, "building %s into %s (once; minutes on a cold Go build cache)\n", tl.Name, bin)
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	args := append(append([]string{"build"}, tl.Flags...), "-o", tmp, tl.Pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = tl.Dir
	// GOWORK=off: a go.work above the repository must not pull the tool module into the main one's build.
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), tl.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build %s: %w\n%s", tl.Name, err, out)
	}
	// Renamed into place only when complete, so a concurrent or interrupted run never sees half a binary.
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("install %s: %w", tl.Name, err)
	}
	return bin, nil
}

// cachedName is where the binary for the tool module as it is now belongs.
func (tl Tool) cachedName() (string, error) {
	mod, err := os.ReadFile(filepath.Join(tl.Dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read tool module: %w", err)
	}
	sum, err := os.ReadFile(filepath.Join(tl.Dir, "go.sum"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read tool module: %w", err)
	}
	version := ""
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "require" {
			f = f[1:] // a require line of its own, not in a block
		}
		if len(f) >= 2 && f[0] == tl.Module {
			version = f[1]
		}
	}
	if version == "" {
		return "", fmt.Errorf("tool module %s does not require %s", tl.Dir, tl.Module)
	}
	dir := tl.CacheDir
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find cache dir: %w", err)
		}
		dir = filepath.Join(cache, "authbridge")
	}
	h := sha256.Sum256(append(mod, sum...))
	return filepath.Join(dir, tl.Name+"-"+version+"-"+hex.EncodeToString(h[:8])), nil
}

// Tail returns the end of a build error's text, at most n bytes: what a test shows when it skips because
// a tool did not build.
func Tail(err error, n int) string {
	s := strings.TrimSpace(err.Error())
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
