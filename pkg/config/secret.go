package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

const redacted = "[redacted]"

// Secret is a configuration value that must never be printed: fmt (every verb), slog, encoding/json and
// yaml all see "[redacted]". Reveal returns the value, to be called only when handing it to a leaf
// package's option struct.
type Secret string

var (
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
)

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]".
func (s Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb, so %s, %v, %+v, %#v, %q and %x all hide the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue returns "[redacted]" for slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]", so JSON and YAML encoders (and slog's JSON handler) hide the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// secretFile pairs a Secret with the key naming a file that may hold it.
type secretFile struct {
	key, fileKey string
	value        *Secret
	path         *string
}

func (c *Config) secretFiles() []secretFile {
	return []secretFile{
		{"oidc.client_secret", "oidc.client_secret_file", &c.OIDC.ClientSecret, &c.OIDC.ClientSecretFile},
		{"session.redis.password", "session.redis.password_file", &c.Session.Redis.Password, &c.Session.Redis.PasswordFile},
		{"admin.token", "admin.token_file", &c.Admin.Token, &c.Admin.TokenFile},
		{"session.cookie.secret", "session.cookie.secret_file", &c.Session.Cookie.Secret, &c.Session.Cookie.SecretFile},
	}
}

// readSecretFiles reads every *_file key into its Secret and clears the path, so that a loaded Config
// holds each secret once and Validate's "both set" rule still holds after loading. Errors name the key and the path, never the content.
func (c *Config) readSecretFiles() []error {
	var errs []error
	for _, sf := range c.secretFiles() {
		if *sf.path == "" {
			continue
		}
		if *sf.value != "" {
			continue // both set: Validate reports it
		}
		b, err := os.ReadFile(*sf.path)
		if err != nil {
			// The *PathError names the path and the cause; it never holds file content.
			errs = append(errs, fmt.Errorf("%w: %s: read secret file: %w", ErrInvalidValue, sf.fileKey, err))
			continue
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			errs = append(errs, fmt.Errorf("%w: %s: secret file %q is empty", ErrInvalidValue, sf.fileKey, *sf.path))
			continue
		}
		*sf.value = Secret(v)
		*sf.path = ""
	}
	return errs
}
