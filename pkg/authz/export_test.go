package authz

// ResealReturnTo re-seals the pending-login cookie name=value with another return URL, as an older
// version may have written it (a relative "/"), for tests of the callback's handling of such logins.
func (e *Engine) ResealReturnTo(name, value, returnTo string) (string, error) {
	p, err := e.sealer.open(name, value)
	if err != nil {
		return "", err
	}
	p.ReturnTo = returnTo
	return e.sealer.seal(name, p)
}
