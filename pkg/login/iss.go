package login

// Issuer returns the provider's issuer identifier exactly as configured and as its discovery document
// states it (discovery refuses any difference): what an ID token's iss and an authorization response's
// iss parameter (RFC 9207) must equal, byte for byte.
func (p *Provider) Issuer() string { return p.cfg.IssuerURL }

// IssParameterRequired reports whether the provider's discovery document says
// authorization_response_iss_parameter_supported: true (the JSON boolean). Then every authorization
// response must carry an iss parameter (RFC 9207 section 2.4); a response without one is refused.
func (p *Provider) IssParameterRequired() bool { return p.issParam }
