package oauth2proxy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrRefused is wrapped by Convert's error when a security-relevant setting was found that the user has
// not acknowledged, or one that cannot be carried over without widening who gets in.
var ErrRefused = errors.New("oauth2proxy: refused")

// ErrInput is wrapped by Convert's error for input that does not parse: malformed TOML or YAML, a flag
// without its value, a value of the wrong type.
var ErrInput = errors.New("oauth2proxy: bad input")

// Input is an oauth2-proxy configuration in the three ways oauth2-proxy is configured, plus its alpha
// config. oauth2-proxy's precedence applies: flags over environment over config file.
type Input struct {
	ConfigFile  []byte   // oauth2-proxy.cfg (TOML); nil for none
	AlphaConfig []byte   // the --alpha-config YAML; nil for none
	Env         []string // KEY=VALUE entries; only OAUTH2_PROXY_* are read
	Args        []string // oauth2-proxy's command-line flags
	// RedirectURL is oidc.redirect_url when the configuration has no redirect_url of its own.
	RedirectURL string
	// Acknowledged names the security-relevant options (config-file spelling, e.g.
	// skip_jwt_bearer_tokens) whose conversion the user accepts as the notes describe.
	Acknowledged []string
}

// Note is one thing the user must know about the conversion.
type Note struct {
	Option string // oauth2-proxy's config-file key, or the alpha config's path
	Source string // where it was set: "config file", "env OAUTH2_PROXY_X", "flag --x", "alpha config"
	Text   string
	// Refused is set for a security-relevant setting that stops the conversion: one not acknowledged
	// (Acknowledgeable), or one that cannot be carried over at all.
	Refused         bool
	Acknowledgeable bool
}

// String is the note as the CLI prints it.
func (n Note) String() string {
	switch {
	case n.Refused && n.Acknowledgeable:
		return fmt.Sprintf("refused: %s (%s): %s; convert with --acknowledge %s to accept this", n.Option, n.Source, n.Text, n.Option)
	case n.Refused:
		return fmt.Sprintf("refused: %s (%s): %s", n.Option, n.Source, n.Text)
	}
	return fmt.Sprintf("note: %s (%s): %s", n.Option, n.Source, n.Text)
}

// Result is a conversion's outcome: the authbridge YAML (nil when refused) and every note, in the order
// of Table.
type Result struct {
	YAML  []byte
	Notes []Note
}

// Convert reads in and writes the authbridge configuration. The error wraps ErrInput for input that
// does not parse, or ErrRefused (naming each refused option) when a Note is Refused; the Result holds the
// notes in both cases when it is not nil.
func Convert(in Input) (*Result, error) {
	settings, err := read(in)
	if err != nil {
		return nil, err
	}
	c := &conv{out: newOutput(), ack: in.Acknowledged, seen: settings}
	for _, o := range Table() {
		s, ok := settings[o.Name]
		if !ok {
			continue
		}
		s.opt = o
		if o.apply == nil {
			c.note(s, o.Advice)
			continue
		}
		o.apply(c, s)
	}
	for _, s := range unknown(settings) {
		c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Text: "not known to this converter: check by hand whether authbridge needs an equivalent"})
	}
	c.applyAlpha(settings)
	c.finish(in.RedirectURL)
	res := &Result{Notes: c.notes}
	var refused []string
	for _, n := range c.notes {
		if n.Refused {
			refused = append(refused, n.Option)
		}
	}
	if len(refused) > 0 {
		return res, fmt.Errorf("%w: %s", ErrRefused, strings.Join(slices.Compact(refused), ", "))
	}
	if res.YAML, err = c.out.marshal(); err != nil {
		return nil, err
	}
	return res, nil
}

// conv is one conversion in progress.
type conv struct {
	out   *output
	notes []Note
	ack   []string
	seen  map[string]setting
}

func (c *conv) note(s setting, text string) {
	c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Text: text})
}

// refuse stops the conversion for s unless the user acknowledged it; acknowledged, it is a note.
func (c *conv) refuse(s setting, text string) {
	if slices.Contains(c.ack, s.name) {
		c.note(s, "acknowledged: "+text)
		return
	}
	c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Text: text, Refused: true, Acknowledgeable: true})
}

// impossible stops the conversion for s whatever the user acknowledges: dropping it would let in users
// that oauth2-proxy kept out.
func impossible(c *conv, s setting) {
	if s.empty() {
		return
	}
	c.notes = append(c.notes, Note{Option: s.name, Source: s.source, Text: s.opt.Advice, Refused: true})
}
