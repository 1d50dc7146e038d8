package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	goyamlparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
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

// inFile prefixes every located problem in errs with path:line:column.
func inFile(path string, errs []error) []error {
	for i, err := range errs {
		var l *located
		if errors.As(err, &l) {
			errs[i] = fmt.Errorf("%s:%d:%d: %w", path, l.line, l.col, l.err)
		}
	}
	return errs
}

// v3Line reads the line out of a yaml.v3 syntax error ("yaml: line 3: ...").
var v3Line = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError places the YAML syntax error err from parsing b. yaml.v3 reports only a line, and often
// the line of the enclosing block rather than of the mistake, so the position and wording come from
// goccy/go-yaml's parser, which points at the offending token. yaml.v3 stays the judge of what is valid:
// this runs only when it has refused b.
func syntaxError(b []byte, err error) error {
	var se *goyaml.SyntaxError
	if _, gerr := goyamlparser.ParseBytes(b, 0); errors.As(gerr, &se) && se.GetToken() != nil {
		p := se.GetToken().Position
		msg := se.GetMessage()
		if strings.ContainsRune(msg, '\t') {
			msg = strings.ReplaceAll(msg, "\t", `\t`) + " (YAML indents with spaces, never tabs)"
		}
		return &located{line: p.Line, col: p.Column, err: fmt.Errorf("%w: yaml syntax: %s", ErrInvalidValue, msg)}
	}
	// The two parsers disagree about where the mistake is: keep yaml.v3's word, and its line.
	msg := err.Error()
	if m := v3Line.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &located{line: line, col: 1, err: fmt.Errorf("%w: yaml syntax: %s", ErrInvalidValue, strings.TrimPrefix(msg, m[0]))}
	}
	return fmt.Errorf("%w: yaml syntax: %s", ErrInvalidValue, strings.TrimPrefix(msg, "yaml: "))
}
