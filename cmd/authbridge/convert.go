package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/authbridge/authbridge/pkg/config"
	"github.com/authbridge/authbridge/pkg/convert/oauth2proxy"
)

// listFlag is a flag that may repeat and holds comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// runConvert converts another proxy's configuration; only oauth2-proxy is known. It exits 0 with the
// YAML written, 1 when the input cannot be read or the conversion is refused (the notes say why), and 2
// for bad flags.
func runConvert(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "oauth2-proxy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs := newFlagSet("convert oauth2-proxy", stdout, stderr)
			convertFlags(fs)
			printUsage(fs, stdout)
			return 0
		}
		fmt.Fprint(stderr, "Usage: authbridge convert oauth2-proxy [flags] [-- oauth2-proxy flags]\n\nonly oauth2-proxy configurations can be converted\n")
		return 2
	}
	fs := newFlagSet("convert oauth2-proxy", stdout, stderr)
	o := convertFlags(fs)
	if code, done := parseFlags(fs, args[1:], stdout); done {
		return code
	}
	in := oauth2proxy.Input{Args: fs.Args(), Acknowledged: *o.ack, RedirectURL: *o.redirectURL, Env: os.Environ()}
	var err error
	if in.ConfigFile, err = readOptional(*o.config); err == nil {
		in.AlphaConfig, err = readOptional(*o.alpha)
	}
	if err == nil && *o.envFile != "" {
		var extra []string
		extra, err = readEnvFile(*o.envFile)
		in.Env = append(in.Env, extra...) // later entries win, so the file's over the process's
	}
	if err != nil {
		fmt.Fprintf(stderr, "authbridge convert: %v\n", err)
		return 1
	}
	res, err := oauth2proxy.Convert(in)
	if res != nil {
		for _, n := range res.Notes {
			fmt.Fprintln(stderr, n.String())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "authbridge convert: %v\n", err)
		return 1
	}
	if err := validateConverted(res.YAML); err != nil {
		fmt.Fprintf(stderr, "authbridge convert: the converted configuration is not valid (fix the oauth2-proxy value it came from):\n%s\n", indent(err))
		return 1
	}
	if *o.output == "" || *o.output == "-" {
		_, _ = stdout.Write(res.YAML)
		return 0
	}
	if err := os.WriteFile(*o.output, res.YAML, 0o644); err != nil {
		fmt.Fprintf(stderr, "authbridge convert: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "authbridge convert: wrote %s; check it with: authbridge check-config --config %s\n", *o.output, *o.output)
	return 0
}

type convertOptions struct {
	config, alpha, envFile, redirectURL, output *string
	ack                                         *listFlag
}

func convertFlags(fs *flag.FlagSet) convertOptions {
	o := convertOptions{
		config:      fs.String("config", "", "oauth2-proxy's config file (TOML, oauth2-proxy.cfg)"),
		alpha:       fs.String("alpha-config", "", "oauth2-proxy's alpha config file (YAML)"),
		envFile:     fs.String("env-file", "", "KEY=VALUE lines of OAUTH2_PROXY_* variables (e.g. a Deployment's env), over this process's own OAUTH2_PROXY_* variables, which are read too"),
		redirectURL: fs.String("redirect-url", "", "oidc.redirect_url, when the oauth2-proxy configuration has no redirect_url (e.g. https://app.example.com/oauth2/callback)"),
		output:      fs.String("o", "", "write the YAML to this file instead of stdout"),
		ack:         &listFlag{},
	}
	fs.Var(o.ack, "acknowledge", "a security-relevant oauth2-proxy option (config-file spelling, e.g. skip_jwt_bearer_tokens) to convert as its refusal explains; may repeat or hold a comma-separated list")
	return o
}

func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return os.ReadFile(path)
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped, and a value may be quoted.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: not a KEY=VALUE line", path, n)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, k+"="+v)
	}
	return out, sc.Err()
}

// validateConverted loads the YAML the way check-config does, with stand-ins for the secrets the notes
// tell the user to supply (the cookie secret; files the output names need not exist here), so that any
// other problem is found now rather than at start-up.
func validateConverted(y []byte) error {
	dir, err := os.MkdirTemp("", "authbridge-convert-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "authbridge.yaml")
	if err := os.WriteFile(path, y, 0o600); err != nil {
		return err
	}
	_, err = config.Load(path, []string{
		"AUTHBRIDGE_SESSION_COOKIE_SECRET=" + strings.Repeat("x", config.MinCookieKey),
		"AUTHBRIDGE_OIDC_CLIENT_SECRET_FILE=",
	})
	return err
}
