package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// keysSet names the session.redis.tls keys that are set, other than enabled.
func (t RedisTLS) keysSet() []string {
	var out []string
	for _, kv := range []struct{ key, v string }{
		{"session.redis.tls.ca_file", t.CAFile}, {"session.redis.tls.cert_file", t.CertFile},
		{"session.redis.tls.key_file", t.KeyFile}, {"session.redis.tls.server_name", t.ServerName},
	} {
		if kv.v != "" {
			out = append(out, kv.key)
		}
	}
	return out
}

// validateRedisTLS checks the session.redis.tls keys against each other and the address keys, without
// reading the files (readTLSFiles does).
func (c *Config) validateRedisTLS(p *problems) {
	r := c.Session.Redis
	t := r.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.missing("session.redis.tls.key_file", "session.redis.tls.cert_file and key_file go together; set both or neither")
	}
	if r.TLSOn() {
		return
	}
	for _, key := range t.keysSet() {
		if r.URL != "" {
			p.invalid(key, "session.redis.url is redis:// (no TLS); use a rediss:// URL")
		} else {
			p.invalid(key, "TLS is off: set session.redis.tls.enabled (or use a rediss:// URL)")
		}
	}
	if t.Enabled && r.URL != "" {
		p.invalid("session.redis.tls.enabled", "session.redis.url is redis:// (no TLS); use a rediss:// URL")
	}
}

// readTLSFiles reads oidc.ca_file into OIDC.RootCAs and builds Session.Redis.TLS.Config. Errors name the
// key and the path, never file content.
func (c *Config) readTLSFiles() []error {
	var errs []error
	if c.OIDC.CAFile != "" {
		pool, err := readCAFile(c.OIDC.CAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: oidc.ca_file: %w", ErrInvalidValue, err))
		}
		c.OIDC.RootCAs = pool
	}
	r := &c.Session.Redis
	if c.Session.Store != "redis" || !r.TLSOn() {
		return errs
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLS.ServerName}
	if r.TLS.CAFile != "" {
		pool, err := readCAFile(r.TLS.CAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: session.redis.tls.ca_file: %w", ErrInvalidValue, err))
		}
		conf.RootCAs = pool
	}
	if r.TLS.CertFile != "" && r.TLS.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(r.TLS.CertFile, r.TLS.KeyFile)
		if err != nil {
			// crypto/tls's errors name the file or the mismatch; they never hold key material.
			errs = append(errs, fmt.Errorf("%w: session.redis.tls.cert_file %q, key_file %q: %w", ErrInvalidValue,
				r.TLS.CertFile, r.TLS.KeyFile, err))
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	r.TLS.Config = conf
	return errs
}

// readCAFile returns a pool of exactly the certificates in the PEM file at path.
func readCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err) // the *PathError names the path
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %q holds no PEM certificate", path)
	}
	return pool, nil
}
