package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// tokenAnswer is a token endpoint's success answer (RFC 6749 5.1, OIDC Core 3.1.3.3).
type tokenAnswer struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	RefreshToken string      `json:"refresh_token"`
	IDToken      string      `json:"id_token"`
	ExpiresIn    json.Number `json:"expires_in"`
	Error        string      `json:"error"`
	expiresIn    int64       // ExpiresIn, checked
}

// tokenError is the provider's OAuth error answer at the token endpoint. It keeps the status and the
// error code, which decide what happens next, and not the description, which is the provider's prose.
type tokenError struct {
	status int
	code   string
}

func (e *tokenError) Error() string {
	return fmt.Sprintf("token endpoint answered %d %.40q", e.status, e.code)
}

// tokenCall posts a grant to the token endpoint, authenticated as this client, and reads the answer
// strictly. The oauth2 package is not used for this: it also takes form-encoded and text/plain answers,
// silently truncates a body at 1 MiB, and cannot say why a body was refused.
//   - 200 must be application/json, one JSON object with no member named twice, an access_token, and
//     token_type Bearer (any case); otherwise the answer is refused with ErrInvalidToken, as is a body
//     over MaxBodyBytes;
//   - an OAuth error (any other status, or an error member) is a *tokenError.
func (p *Provider) tokenCall(ctx context.Context, form url.Values) (*tokenAnswer, error) {
	inHeader := p.cfg.ClientSecret != "" && p.oauth.Endpoint.AuthStyle != oauth2.AuthStyleInParams
	if !inHeader {
		form.Set("client_id", p.cfg.ClientID)
		if p.cfg.ClientSecret != "" {
			form.Set("client_secret", p.cfg.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(withEndpoint(ctx, endpointToken), http.MethodPost, p.oauth.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if inHeader {
		// RFC 6749 2.3.1: both parts are form-urlencoded before they are joined.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	resp, body, err := do(p.client, req)
	switch {
	case errors.Is(err, ErrTooLarge):
		return nil, fmt.Errorf("%w: token response: %w", ErrInvalidToken, err)
	case err != nil:
		return nil, fmt.Errorf("call token endpoint: %w", err)
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mediaType == "application/json"
	if resp.StatusCode != http.StatusOK {
		te := &tokenError{status: resp.StatusCode}
		var e struct {
			Error string `json:"error"`
		}
		if isJSON && json.Unmarshal(body, &e) == nil {
			te.code = e.Error
		}
		return nil, te
	}
	if !isJSON {
		return nil, fmt.Errorf("%w: token response is %.40q, not application/json", ErrInvalidToken, mediaType)
	}
	return parseTokenAnswer(body)
}

// parseTokenAnswer checks a 200 JSON token response.
func parseTokenAnswer(body []byte) (*tokenAnswer, error) {
	if err := uniqueMembers(body); err != nil {
		return nil, fmt.Errorf("%w: token response: %w", ErrInvalidToken, err)
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: token response: a member has the wrong type", ErrInvalidToken)
	}
	if a.Error != "" {
		// Some servers answer errors with 200 (RFC 6749 5.2 says 400); it is still an error.
		return nil, &tokenError{status: http.StatusOK, code: a.Error}
	}
	if a.AccessToken == "" {
		return nil, fmt.Errorf("%w: token response has no access_token", ErrInvalidToken)
	}
	if !strings.EqualFold(a.TokenType, "Bearer") {
		return nil, fmt.Errorf("%w: token response token_type is not Bearer", ErrInvalidToken)
	}
	if a.ExpiresIn != "" {
		n, err := a.ExpiresIn.Int64()
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: token response expires_in is not a number of seconds", ErrInvalidToken)
		}
		a.expiresIn = n
	}
	return &a, nil
}

// classify maps the provider's invalid_grant to ErrInvalidGrant and leaves everything else as it is:
// ErrInvalidToken for a refused answer, transient for the rest.
func classify(err error) error {
	var te *tokenError
	if errors.As(err, &te) && te.code == "invalid_grant" {
		return ErrInvalidGrant
	}
	return err
}
