package oauth2proxy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// yamlErrLine is the "line N:" that starts each of a yaml.TypeError's messages.
var yamlErrLine = regexp.MustCompile(`^line (\d+):`)

// inputError is ErrInput for a config file (what) that does not parse, naming where without quoting
// what is there: the broken value may be a client or cookie secret, and both parsers quote part of the
// value they choke on (TOML the first characters, YAML up to seven).
func inputError(what string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: not valid TOML at line %d, column %d (the value is not shown: it may be a secret)",
			ErrInput, what, pe.Position.Line, pe.Position.Col)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var lines []string
		for _, m := range te.Errors {
			if l := yamlErrLine.FindStringSubmatch(m); l != nil {
				lines = append(lines, l[1])
			}
		}
		return fmt.Errorf("%w: %s: a value of the wrong type at line %s (the value is not shown: it may be a secret)",
			ErrInput, what, strings.Join(slices.Compact(lines), ", "))
	}
	// The other parse errors (YAML syntax) name a position and a construct, not a value.
	return fmt.Errorf("%w: %s: %v", ErrInput, what, err)
}
