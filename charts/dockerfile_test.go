package charts_test

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authbridge/authbridge/pkg/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case, e.g. FROM
	args string
	line int
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

// stage is one FROM ... up to the next FROM.
type stage struct {
	image, name string
	body        []instruction
}

func stages(ins []instruction) []stage {
	var out []stage
	for _, in := range ins {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--platform=") })
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			out = append(out, s)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].body = append(out[len(out)-1].body, in)
		}
	}
	return out
}

// TestDockerfileLint applies hadolint's rules that matter here (hadolint is not packaged for Debian),
// plus the image contract: distroless, non-root, exec-form entrypoint, the binary's ports.
func TestDockerfileLint(t *testing.T) {
	ins := parseDockerfile(t)
	st := stages(ins)
	require.GreaterOrEqual(t, len(st), 2, "multi-stage build")
	final := st[len(st)-1]
	names := map[string]bool{}
	for _, s := range st {
		// DL3006, DL3007: a pinned tag (or digest), never latest.
		ref := strings.SplitN(s.image, "@", 2)
		_, tag, hasTag := strings.Cut(ref[0][strings.LastIndex(ref[0], "/")+1:], ":")
		require.True(t, len(ref) == 2 || (hasTag && tag != "latest"), "FROM %s: pin a tag other than latest", s.image)
		for _, in := range s.body {
			switch in.cmd {
			case "ADD":
				t.Errorf("line %d: use COPY, not ADD (DL3020); never ADD a URL", in.line)
			case "WORKDIR":
				require.True(t, strings.HasPrefix(in.args, "/"), "line %d: WORKDIR must be absolute (DL3000)", in.line)
			case "RUN":
				require.NotRegexp(t, `(^|[\s;&|])(sudo|cd)\s`, in.args, "line %d: no sudo (DL3004) or cd (DL3003)", in.line)
			case "COPY":
				if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil {
					require.True(t, names[m[1]], "line %d: COPY --from=%s must name an earlier stage (DL3022)", in.line, m[1])
				}
			}
		}
		names[s.name] = true
	}

	require.Equal(t, "gcr.io/distroless/static-debian12:nonroot", final.image, "final image: distroless static, no shell")
	last := map[string]instruction{}
	for _, in := range final.body {
		require.NotEqual(t, "RUN", in.cmd, "line %d: the final image has no shell to RUN with", in.line)
		last[in.cmd] = in
	}
	user := strings.Split(last["USER"].args, ":")[0]
	require.Regexp(t, `^[1-9][0-9]*$`, user, "USER must be a numeric non-root UID, so runAsNonRoot can verify it")
	require.Equal(t, `["/authbridge"]`, last["ENTRYPOINT"].args, "exec-form ENTRYPOINT (DL3025)")
	require.Equal(t, `["serve"]`, last["CMD"].args, "exec-form CMD (DL3025)")

	def := config.Default().Listen
	var want []string
	for _, addr := range []string{def.HTTP, def.ForwardAuth, def.GRPC, def.Admin} {
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		want = append(want, port)
	}
	require.ElementsMatch(t, want, strings.Fields(last["EXPOSE"].args), "EXPOSE the binary's default ports")

	build := buildCommand(t)
	for _, w := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=$VERSION", "./cmd/authbridge"} {
		require.Contains(t, build, w)
	}
}

// buildCommand returns the shell command of the RUN instruction that runs go build, without BuildKit's
// --mount options.
func buildCommand(t *testing.T) string {
	t.Helper()
	var hits []string
	for _, in := range parseDockerfile(t) {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			hits = append(hits, strings.TrimSpace(regexp.MustCompile(`--mount=\S+\s*`).ReplaceAllString(in.args, "")))
		}
	}
	require.Len(t, hits, 1, "one RUN ... go build")
	return hits[0]
}

const imageVersion = "v9.8.7-test"

// buildLikeDocker builds authbridge with the Dockerfile's own command line, in a copy of the build
// context filtered by .dockerignore, as `docker build` would (no Docker engine runs here).
func buildLikeDocker(t *testing.T) string {
	t.Helper()
	ctx := t.TempDir()
	copyContext(t, repoRoot, ctx)
	out := filepath.Join(t.TempDir(), "authbridge")
	build := buildCommand(t)
	_, target, ok := strings.Cut(build, " -o ")
	require.True(t, ok, "the build writes its output with -o")
	target = strings.Fields(target)[0]
	cmd := exec.Command("sh", "-c", strings.Replace(build, " -o "+target, " -o "+out, 1))
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "VERSION="+imageVersion, "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", build, b)
	return out
}

// TestDockerfileBuildsTheBinary runs the Dockerfile's build and checks the result: a static binary
// stamped with the build's VERSION that, started with the chart's config, answers the chart's probes.
func TestDockerfileBuildsTheBinary(t *testing.T) {
	bin := buildLikeDocker(t)
	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(out), "authbridge "+imageVersion+" revision "), "%q", out)
		require.Contains(t, string(out), runtime.Version(), "the Go version the image was built with")
	})
	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		require.NoError(t, err)
		defer f.Close()
		for _, p := range f.Progs {
			require.NotEqual(t, elf.PT_INTERP, p.Type, "the binary must be static: distroless static has no libc")
		}
		require.Nil(t, f.Section(".debug_info"), "-s -w strips debug info")
	})
	t.Run("answers the chart's probes", func(t *testing.T) { checkProbesServe(t, bin) })
}

// copyContext copies src to dst leaving out what .dockerignore excludes.
func copyContext(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, ".dockerignore"))
	require.NoError(t, err)
	ignore := parseDockerignore(string(b))
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignore.excludes(rel) {
			if d.IsDir() && !ignore.negates {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	require.NoError(t, err)
}

// dockerignore holds .dockerignore's patterns with Docker's semantics: paths relative to the context
// root, * and ? within one path element, ** across elements, a match on a directory covers what is
// below it, ! re-includes, the last matching pattern wins.
type dockerignore struct {
	rules   []ignoreRule
	negates bool
}

type ignoreRule struct {
	re      *regexp.Regexp
	include bool
}

func parseDockerignore(s string) dockerignore {
	var d dockerignore
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.include, d.negates = true, true
			line = line[1:]
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		r.re = regexp.MustCompile("^" + re.String() + "(/.*)?$")
		d.rules = append(d.rules, r)
	}
	return d
}

func (d dockerignore) excludes(rel string) bool {
	excluded := false
	for _, r := range d.rules {
		if r.re.MatchString(rel) {
			excluded = !r.include
		}
	}
	return excluded
}

func TestDockerignoreMatcher(t *testing.T) {
	d := parseDockerignore("# comment\n.git\n**/*_test.go\ndocs\n*.md\n!SECURITY.md\n/bin\n")
	tests := []struct {
		path string
		want bool
	}{
		{".git", true}, {".git/config", true}, {"pkg/a_test.go", true}, {"a_test.go", true},
		{"pkg/a.go", false}, {"docs/x.txt", true}, {"pkg/docs/x.txt", false}, {"README.md", true},
		{"SECURITY.md", false}, {"pkg/README.md", false}, {"bin/authbridge", true}, {"cmd/authbridge/main.go", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			require.Equal(t, tt.want, d.excludes(tt.path), fmt.Sprintf("excludes(%q)", tt.path))
		})
	}
}
