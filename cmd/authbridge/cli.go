package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// subcommands' one-line summaries, for their --help.
var summaries = map[string]string{
	"serve":        "run the gRPC (ext_authz), forward-auth, browser-facing HTTP and admin listeners",
	"check-config": "validate the configuration (policy routes included) and exit: 0 when it is valid, 1 when not",
	"explain":      "say which policy route a request gets and why it is allowed or not",
	"convert oauth2-proxy": "write an authbridge YAML configuration from an oauth2-proxy one (its config file, OAUTH2_PROXY_* " +
		"environment and flags, flags winning over environment over file, and its alpha config); print on stderr, for every " +
		"setting without an equivalent, what to do instead; refuse security-relevant settings unless acknowledged",
}

// operands follow a subcommand's flags in its usage line.
var operands = map[string]string{"convert oauth2-proxy": " [-- oauth2-proxy flags]"}

// newFlagSet is a subcommand's flag set whose usage text says what the command does, lists its flags
// and points to the configuration reference: on stdout for --help (exit 0), on stderr after a bad flag
// (exit 2). See parseFlags.
func newFlagSet(cmd string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parseFlags prints the usage where it belongs
	return fs
}

// printUsage writes fs's usage text to w.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	s := summaries[fs.Name()]
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	fmt.Fprintf(w, "Usage: authbridge %s [flags]%s\n\n%s.\n\nFlags:\n", fs.Name(), operands[fs.Name()], s)
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	fmt.Fprint(w, "\nEvery configuration key can also be set by environment variable (AUTHBRIDGE_ + the key path in\n"+
		"upper case, e.g. AUTHBRIDGE_OIDC_CLIENT_ID); secrets also from files (*_file). The reference of every\n"+
		"key is in README.md, section \"Running it\".\n")
}

// parseFlags parses args; done is true when the command must stop with code: 0 after --help (usage on
// stdout), 2 for a bad flag (the flag package's message, then the usage, on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		printUsage(fs, stdout)
		return 0, true
	case err != nil:
		printUsage(fs, fs.Output())
		return 2, true
	}
	return 0, false
}

// versionLine is what `authbridge version` prints: the version stamped at build time, and the VCS
// revision, its time and the Go version the binary carries (from debug.ReadBuildInfo).
func versionLine() string {
	revision, built, modified := "unknown", "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				built = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	return fmt.Sprintf("authbridge %s revision %s%s built %s %s %s/%s", version, revision, modified, built,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
