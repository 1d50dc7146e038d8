package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	goyamlparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// located is a problem at a place in the config file. Load prefixes its message with file:line:column,
// the form editors and terminals jump to.
type located struct {
	line, col int
	err       error
}

func (e *located) Error() string { return e.err.Error() }
func (e *located) Unwrap() error { return e.err }

// at places err at node n.
func at(n *yaml.Node, err error) error { return &located{line: n.Line, col: n.Column, err: err} }

// inFile prefixes every located problem in errs with path:line:column (just path when the line is
// unknown).
func inFile(path string, errs []error) []error {
	for i, err := range errs {
		var l *located
		switch {
		case !errors.As(err, &l):
		case l.line == 0: // the parser said what, not where
			errs[i] = fmt.Errorf("%s: %w", path, l.err)
		default:
			errs[i] = fmt.Errorf("%s:%d:%d: %w", path, l.line, l.col, l.err)
		}
	}
	return errs
}

// locate is goccy/go-yaml's syntax error for b, or nil when it finds none (or, being a second opinion
// that must not take start-up down, when it panics).
func locate(b []byte) (se *goyaml.SyntaxError) {
	defer func() {
		if recover() != nil {
			se = nil
		}
	}()
	if _, err := goyamlparser.ParseBytes(b, 0); errors.As(err, &se) && se.GetToken() != nil {
		return se
	}
	return nil
}

// syntaxError places the YAML syntax error err from parsing b. yaml.v3 reports only a line, and often
// the line of the enclosing block rather than of the mistake, so the position and wording come from
// goccy/go-yaml's parser, which points at the offending token. yaml.v3 stays the judge of what is valid:
// this runs only when it has refused b.
func syntaxError(b []byte, err error) error {
	if se := locate(b); se != nil {
		p := se.GetToken().Position
		msg := se.GetMessage()
		if strings.ContainsRune(msg, '\t') {
			msg = strings.ReplaceAll(msg, "\t", `\t`) + " (YAML indents with spaces, never tabs)"
		}
		return &located{line: p.Line, col: p.Column, err: fmt.Errorf("%w: yaml syntax: %s", ErrInvalidValue, msg)}
	}
	// goccy/go-yaml finds nothing wrong (an unknown anchor, say): yaml.v3's words, with the line it
	// gives, if any — but not the text it quotes, which can be a value: an unquoted secret that starts
	// with '*' is read as an alias, and yaml.v3 would name it ("unknown anchor 'S3cr…' referenced").
	msg := quoted.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "'…'")
	if strings.Contains(msg, "unknown anchor") {
		msg += " (a value that starts with '*' or '&' must be quoted)"
	}
	return &located{err: fmt.Errorf("%w: yaml syntax: %s", ErrInvalidValue, msg)}
}

// quoted matches the text yaml.v3 quotes in its messages.
var quoted = regexp.MustCompile(`'[^']*'`)
