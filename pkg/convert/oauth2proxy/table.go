// Package oauth2proxy turns an oauth2-proxy configuration (its TOML config file, its OAUTH2_PROXY_*
// environment, its command-line flags and its alpha YAML config) into an authbridge YAML configuration,
// with a note for every setting that has no equivalent and a refusal for each security-relevant one the
// user has not acknowledged.
package oauth2proxy

import "strings"

// kind is how an option's value is spelt.
type kind uint8

const (
	str kind = iota
	boolean
	list
	duration
)

// Option is one oauth2-proxy option as this converter knows it. The same table drives the conversion and
// the map in docs/migrate-from-oauth2-proxy.md (see Table), so the two cannot drift apart.
type Option struct {
	Name string // the config-file (TOML) key, e.g. email_domains
	Flag string // the command-line flag without its dashes, e.g. email-domain
	Key  string // the authbridge key it becomes, "" for none
	// Security marks an option whose conversion can change who gets in or what the upstream trusts: a
	// value that is not its harmless default stops the conversion until the user acknowledges it.
	Security bool
	Advice   string // what authbridge does instead, or what to do; for the notes and the docs
	kind     kind
	apply    func(c *conv, s setting) // nil: a note with Advice when set to anything but its default
}

// Env is the option's environment variable: OAUTH2_PROXY_ and the config-file key in upper case.
func (o Option) Env() string { return envPrefix + strings.ToUpper(o.Name) }

const envPrefix = "OAUTH2_PROXY_"

// Table returns every option the converter knows, in the order of the docs' map.
func Table() []Option {
	return []Option{
		// Provider.
		{Name: "provider", Flag: "provider", Key: "oidc.issuer_url", kind: str, apply: applyProvider,
			Advice: "oidc, keycloak-oidc, azure, entra-id, adfs, gitlab and google are OpenID Connect providers: their issuer becomes oidc.issuer_url; github, bitbucket, facebook, linkedin, digitalocean, nextcloud, login.gov and the legacy keycloak are not, and cannot be converted (put an OIDC broker such as Dex or Keycloak in front of them)"},
		{Name: "oidc_issuer_url", Flag: "oidc-issuer-url", Key: "oidc.issuer_url", kind: str, apply: applyIssuer,
			Advice: "the same issuer; authbridge compares it with the ID token's iss exactly (keep Auth0's trailing slash)"},
		{Name: "client_id", Flag: "client-id", Key: "oidc.client_id", kind: str, apply: set("oidc.client_id")},
		{Name: "client_secret", Flag: "client-secret", Key: "oidc.client_secret", kind: str, apply: applyClientSecret,
			Advice: "never written to the YAML: set AUTHBRIDGE_OIDC_CLIENT_SECRET from your secret store, or mount it and set oidc.client_secret_file"},
		{Name: "client_secret_file", Flag: "client-secret-file", Key: "oidc.client_secret_file", kind: str, apply: set("oidc.client_secret_file")},
		{Name: "redirect_url", Flag: "redirect-url", Key: "oidc.redirect_url", kind: str, apply: set("oidc.redirect_url"),
			Advice: "required by authbridge (oauth2-proxy guessed it from each request's Host): convert's --redirect-url supplies it when it is not set"},
		{Name: "scope", Flag: "scope", Key: "oidc.scopes", kind: str, apply: applyScope,
			Advice: "split on spaces; authbridge refreshes tokens, so keep offline_access where your provider needs it for a refresh token (Auth0, Keycloak)"},
		{Name: "oidc_groups_claim", Flag: "oidc-groups-claim", Key: "oidc.groups_claim", kind: str, apply: set("oidc.groups_claim")},
		{Name: "oidc_email_claim", Flag: "oidc-email-claim", kind: str, apply: unlessValue("email"),
			Advice: "authbridge reads the e-mail from the email claim only, and only when email_verified is true"},
		{Name: "user_id_claim", Flag: "user-id-claim", kind: str, apply: unlessValue("email"),
			Advice: "authbridge's X-Auth-Request-User is always the subject (sub), not the e-mail that oauth2-proxy sends by default; the e-mail is in X-Auth-Request-Email"},
		{Name: "oidc_audience_claims", Flag: "oidc-audience-claim", kind: list, apply: unlessValue("aud"),
			Advice: "authbridge checks the ID token's aud against oidc.client_id"},
		{Name: "oidc_extra_audiences", Flag: "oidc-extra-audience", kind: list,
			Advice: "authbridge checks the ID token's aud against oidc.client_id only; for API clients' access tokens see bearer.audiences"},
		{Name: "insecure_oidc_allow_unverified_email", Flag: "insecure-oidc-allow-unverified-email", Key: "oidc.allow_unverified_email", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "not carried over: an unverified address lets anyone who signs up with somebody else's e-mail pass policy.email_domains; if you must, set oidc.allow_unverified_email: true yourself"},
		{Name: "insecure_oidc_skip_issuer_verification", Flag: "insecure-oidc-skip-issuer-verification", kind: boolean, apply: noteTrue,
			Advice: "authbridge always compares the ID token's iss with oidc.issuer_url: use the issuer your provider puts in its tokens (for Entra ID, the tenant's, not common)"},
		{Name: "insecure_oidc_skip_nonce", Flag: "insecure-oidc-skip-nonce", kind: boolean,
			Advice: "authbridge always sends and checks a nonce"},
		{Name: "skip_oidc_discovery", Flag: "skip-oidc-discovery", kind: boolean, apply: noteTrue,
			Advice: "authbridge needs OIDC discovery at oidc.issuer_url (/.well-known/openid-configuration); login_url, redeem_url and oidc_jwks_url are not used"},
		{Name: "oidc_jwks_url", Flag: "oidc-jwks-url", Advice: "taken from discovery", kind: str},
		{Name: "login_url", Flag: "login-url", Advice: "taken from discovery", kind: str},
		{Name: "redeem_url", Flag: "redeem-url", Advice: "taken from discovery", kind: str},
		{Name: "profile_url", Flag: "profile-url", Advice: "not used: identity comes from the ID token", kind: str},
		{Name: "validate_url", Flag: "validate-url", Advice: "not used: the ID token is verified against the provider's keys", kind: str},
		{Name: "code_challenge_method", Flag: "code-challenge-method", Advice: "authbridge always uses PKCE with S256", kind: str},
		{Name: "prompt", Flag: "prompt", Key: "oidc.extra_auth_params", kind: str, apply: authParam("prompt")},
		{Name: "acr_values", Flag: "acr-values", Key: "oidc.extra_auth_params", kind: str, apply: authParam("acr_values")},
		{Name: "approval_prompt", Flag: "approval-prompt", kind: str, apply: unlessValue("force"),
			Advice: "not sent; use oidc.extra_auth_params.prompt"},
		{Name: "resource", Flag: "resource", Key: "oidc.extra_auth_params", kind: str, apply: authParam("resource")},
		{Name: "azure_tenant", Flag: "azure-tenant", Key: "oidc.issuer_url", kind: str, apply: applyAzureTenant,
			Advice: "with provider azure or entra-id and no oidc_issuer_url, the issuer is https://login.microsoftonline.com/<tenant>/v2.0; common, organizations and consumers name no single issuer and are refused"},
		{Name: "provider_ca_files", Flag: "provider-ca-file", Key: "oidc.ca_file", kind: list,
			Advice: "set oidc.ca_file to a PEM file of these CAs (concatenate several into one) where authbridge runs; they replace the system roots, as oauth2-proxy's do without use_system_trust_store"},
		{Name: "backend_logout_url", Flag: "backend-logout-url", Key: "oidc.logout", kind: str,
			Advice: "authbridge signs out at the provider through its end_session_endpoint (or Auth0's /v2/logout): see oidc.logout"},
		{Name: "provider_display_name", Flag: "provider-display-name", Advice: "authbridge shows no sign-in page", kind: str},

		// Who may log in.
		{Name: "email_domains", Flag: "email-domain", Key: "policy.email_domains", Security: true, kind: list, apply: applyEmailDomains,
			Advice: "the same domains, each matched exactly (a subdomain needs its own entry) against a verified e-mail; * (anyone the provider lets log in) is refused unless acknowledged, and then written as no email_domains, which means the same"},
		{Name: "allowed_groups", Flag: "allowed-group", Key: "policy.groups", kind: list, apply: set("policy.groups")},
		{Name: "authenticated_emails_file", Flag: "authenticated-emails-file", Security: true, kind: str, apply: impossible,
			Advice: "no equivalent for a default rule that keeps the restriction: list the addresses in a policy route (policy.routes[].require.emails) and remove the option"},
		{Name: "allowed_roles", Flag: "allowed-role", Security: true, kind: list, apply: impossible,
			Advice: "Keycloak roles sit in a nested claim: map them into a top-level claim (a client scope mapper) and require it with policy.routes[].require.claims; then remove the option"},
		{Name: "google_groups", Flag: "google-group", Security: true, kind: list, apply: impossible,
			Advice: "Google groups come from the Admin API, which authbridge does not call: put the groups into the ID token (Cloud Identity, or a broker) and use policy.groups"},
		{Name: "github_org", Flag: "github-org", Security: true, kind: str, apply: impossible, Advice: "GitHub is no OIDC provider: see provider"},
		{Name: "github_team", Flag: "github-team", Security: true, kind: str, apply: impossible, Advice: "GitHub is no OIDC provider: see provider"},
		{Name: "github_repo", Flag: "github-repo", Security: true, kind: str, apply: impossible, Advice: "GitHub is no OIDC provider: see provider"},
		{Name: "github_users", Flag: "github-user", Security: true, kind: list, apply: impossible, Advice: "GitHub is no OIDC provider: see provider"},
		{Name: "gitlab_groups", Flag: "gitlab-group", Security: true, kind: list, apply: impossible,
			Advice: "GitLab's groups claim holds them: use oidc.groups_claim groups and policy.groups, then remove the option"},
		{Name: "keycloak_groups", Flag: "keycloak-group", Security: true, kind: list, apply: impossible,
			Advice: "with keycloak-oidc, map groups into the ID token and use policy.groups, then remove the option"},
		{Name: "entra_id_allowed_tenants", Flag: "entra-id-allowed-tenant", Security: true, kind: list, apply: impossible,
			Advice: "authbridge takes one issuer, hence one tenant: configure the tenant's issuer"},
		{Name: "htpasswd_file", Flag: "htpasswd-file", kind: str,
			Advice: "no basic-auth users: everyone logs in at the provider"},
		{Name: "skip_jwt_bearer_tokens", Flag: "skip-jwt-bearer-tokens", Key: "bearer.audiences", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "not carried over: oauth2-proxy accepted any JWT the issuer signed for the client ID (ID tokens included); authbridge accepts access tokens for the audiences in bearer.audiences: set it to your API's identifier"},
		{Name: "extra_jwt_issuers", Flag: "extra-jwt-issuers", Key: "bearer.extra_issuers", Security: true, kind: list, apply: refuseSet,
			Advice: "not carried over (issuer=audience pairs): list the issuers in bearer.extra_issuers and their audiences in bearer.audiences"},
		{Name: "skip_auth_routes", Flag: "skip-auth-route", Key: "policy.routes", Security: true, kind: list, apply: refuseSet,
			Advice: "regular expressions are not converted: write each as a policy route with public: true (host, path prefix, methods), which matches what it says and no more"},
		{Name: "skip_auth_regex", Flag: "skip-auth-regex", Key: "policy.routes", Security: true, kind: list, apply: refuseSet,
			Advice: "regular expressions are not converted: write each as a policy route with public: true (host, path prefix, methods)"},
		{Name: "skip_auth_preflight", Flag: "skip-auth-preflight", Key: "policy.routes", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "not carried over: to let CORS preflights through unauthenticated, add a policy route with methods: [OPTIONS] and public: true"},
		{Name: "trusted_ips", Flag: "trusted-ip", Security: true, kind: list, apply: refuseSet,
			Advice: "not carried over: oauth2-proxy let these addresses skip authentication; authbridge has no such bypass (trusted_proxies only says whose X-Forwarded-* headers to believe)"},
		{Name: "api_routes", Flag: "api-route", kind: list,
			Advice: "not needed: authbridge answers 401 instead of a redirect to every request that is not a browser navigation (fetch metadata, Accept)"},

		// Where the browser may go.
		{Name: "whitelist_domains", Flag: "whitelist-domain", Key: "redirect.allowed_domains", Security: true, kind: list, apply: applyWhitelist,
			Advice: "the same entries (.example.com: the domain and its subdomains); *.example.com and a :* port are refused unless acknowledged, then written as .example.com and dropped respectively"},

		// The cookie and the session.
		{Name: "cookie_name", Flag: "cookie-name", Key: "session.cookie.name", kind: str, apply: noteAlways,
			Advice: "not carried over: authbridge's cookie (__Host-authbridge) holds something else, so every user logs in once more after the switch"},
		{Name: "cookie_secret", Flag: "cookie-secret", Key: "session.cookie.secret", kind: str, apply: applyCookieSecret,
			Advice: "not carried over: generate a new one (openssl rand -base64 32) into AUTHBRIDGE_SESSION_COOKIE_SECRET or session.cookie.secret_file"},
		{Name: "cookie_secret_file", Flag: "cookie-secret-file", Key: "session.cookie.secret_file", kind: str, apply: applyCookieSecret,
			Advice: "not carried over: generate a new secret (openssl rand -base64 32) into AUTHBRIDGE_SESSION_COOKIE_SECRET or session.cookie.secret_file"},
		{Name: "cookie_domains", Flag: "cookie-domain", Key: "session.cookie.domain", kind: list, apply: applyCookieDomains,
			Advice: "one domain: authbridge sets the cookie for exactly one (oauth2-proxy picked the longest match per request)"},
		{Name: "cookie_path", Flag: "cookie-path", kind: str, apply: unlessValue("/"), Advice: "the cookie's path is always /"},
		{Name: "cookie_expire", Flag: "cookie-expire", Key: "session.max_lifetime", kind: duration, apply: applyExpire},
		{Name: "cookie_refresh", Flag: "cookie-refresh", Key: "session.refresh_ahead", kind: duration, apply: noteSet,
			Advice: "authbridge refreshes the access token session.refresh_ahead (60s) before it expires, not on a fixed period"},
		{Name: "cookie_secure", Flag: "cookie-secure", Key: "session.cookie.secure", Security: true, kind: boolean, apply: refuseFalse,
			Advice: "not carried over: the cookie stays Secure; for plain-http local testing only, set session.cookie.secure: false yourself"},
		{Name: "cookie_httponly", Flag: "cookie-httponly", kind: boolean, apply: noteFalse,
			Advice: "the cookie is always HttpOnly: a page reads who is logged in from GET /oauth2/userinfo instead"},
		{Name: "cookie_samesite", Flag: "cookie-samesite", kind: str, apply: unlessValue("", "lax"),
			Advice: "the cookie is always SameSite=Lax"},
		{Name: "cookie_csrf_per_request", Flag: "cookie-csrf-per-request", kind: boolean,
			Advice: "every login has its own short-lived cookie already"},
		{Name: "cookie_csrf_expire", Flag: "cookie-csrf-expire", Key: "session.login_timeout", kind: duration, apply: set("session.login_timeout")},
		{Name: "session_store_type", Flag: "session-store-type", Key: "session.store", kind: str, apply: applyStore,
			Advice: "cookie: authbridge keeps sessions server-side and never in the cookie, so the output uses the memory store (one replica); set session.store: redis and session.redis.url for more"},
		{Name: "session_cookie_minimal", Flag: "session-cookie-minimal", kind: boolean,
			Advice: "the cookie never holds tokens"},
		{Name: "redis_connection_url", Flag: "redis-connection-url", Key: "session.redis.url", kind: str, apply: applyRedisURL},
		{Name: "redis_password", Flag: "redis-password", Key: "session.redis.password", kind: str, apply: noteSet,
			Advice: "never written to the YAML: set AUTHBRIDGE_SESSION_REDIS_PASSWORD, or session.redis.password_file"},
		{Name: "redis_username", Flag: "redis-username", Key: "session.redis.url", kind: str, apply: noteSet,
			Advice: "put the user name in session.redis.url (redis://user@host:6379)"},
		{Name: "redis_use_sentinel", Flag: "redis-use-sentinel", Key: "session.redis.master_name", kind: boolean, apply: applyRedisMode},
		{Name: "redis_sentinel_master_name", Flag: "redis-sentinel-master-name", Key: "session.redis.master_name", kind: str, apply: applyRedisMode},
		{Name: "redis_sentinel_connection_urls", Flag: "redis-sentinel-connection-urls", Key: "session.redis.addrs", kind: list, apply: applyRedisMode},
		{Name: "redis_use_cluster", Flag: "redis-use-cluster", Key: "session.redis.addrs", kind: boolean, apply: applyRedisMode},
		{Name: "redis_cluster_connection_urls", Flag: "redis-cluster-connection-urls", Key: "session.redis.addrs", kind: list, apply: applyRedisMode},
		{Name: "redis_sentinel_password", Flag: "redis-sentinel-password", kind: str,
			Advice: "authbridge uses one Redis password for Sentinels and servers (session.redis.password)"},
		{Name: "redis_ca_path", Flag: "redis-ca-path", Key: "session.redis.tls.ca_file", kind: str,
			Advice: "use a rediss:// URL and set session.redis.tls.ca_file to the CA's PEM file where authbridge runs; it replaces the system roots (oauth2-proxy adds it to them)"},
		{Name: "redis_insecure_skip_tls_verify", Flag: "redis-insecure-skip-tls-verify", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "not carried over: authbridge always verifies Redis's certificate with rediss://"},
		{Name: "redis_connection_idle_timeout", Flag: "redis-connection-idle-timeout", kind: str, Advice: "authbridge manages its Redis pool itself"},

		// What the upstream and the gateway get.
		{Name: "pass_access_token", Flag: "pass-access-token", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "authbridge sends the access token as Authorization: Bearer, never as X-Forwarded-Access-Token or X-Auth-Request-Access-Token: the upstream must read Authorization"},
		{Name: "set_authorization_header", Flag: "set-authorization-header", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "oauth2-proxy put the ID token in Authorization; authbridge puts the access token there (aud: oidc.audience, not the client ID): the upstream must validate access tokens"},
		{Name: "pass_authorization_header", Flag: "pass-authorization-header", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "oauth2-proxy passed the ID token in Authorization; authbridge passes the access token (aud: oidc.audience, not the client ID): the upstream must validate access tokens"},
		{Name: "set_xauthrequest", Flag: "set-xauthrequest", kind: boolean, apply: noteTrue,
			Advice: "authbridge always answers X-Auth-Request-User (the subject) and X-Auth-Request-Email; groups and preferred username only as a policy route's headers"},
		{Name: "pass_user_headers", Flag: "pass-user-headers", kind: boolean, apply: noteTrue,
			Advice: "X-Forwarded-User, -Email, -Groups and -Preferred-Username are not sent; the upstream gets X-Auth-Request-User and -Email (and a route's headers)"},
		{Name: "pass_basic_auth", Flag: "pass-basic-auth", kind: boolean, apply: noteTrue,
			Advice: "no Basic credentials are sent; the upstream gets Authorization: Bearer <access token>"},
		{Name: "set_basic_auth", Flag: "set-basic-auth", kind: boolean, apply: noteTrue,
			Advice: "no Basic credentials are answered; the upstream gets Authorization: Bearer <access token>"},
		{Name: "basic_auth_password", Flag: "basic-auth-password", kind: str, Advice: "no Basic credentials are sent"},
		{Name: "prefer_email_to_user", Flag: "prefer-email-to-user", kind: boolean, apply: noteTrue,
			Advice: "X-Auth-Request-User is always the subject; the e-mail is in X-Auth-Request-Email"},
		{Name: "skip_auth_strip_headers", Flag: "skip-auth-strip-headers", kind: boolean, apply: noteFalse,
			Advice: "authbridge always removes identity headers that the client sent"},
		{Name: "upstreams", Flag: "upstream", kind: list, apply: applyUpstreams,
			Advice: "authbridge does not proxy: the gateway routes to the app and asks authbridge about each request"},
		{Name: "pass_host_header", Flag: "pass-host-header", kind: boolean, Advice: "authbridge does not proxy"},
		{Name: "proxy_websockets", Flag: "proxy-websockets", kind: boolean, Advice: "authbridge does not proxy"},
		{Name: "flush_interval", Flag: "flush-interval", kind: duration, Advice: "authbridge does not proxy"},
		{Name: "upstream_timeout", Flag: "upstream-timeout", kind: duration, Advice: "authbridge does not proxy"},
		{Name: "ssl_upstream_insecure_skip_verify", Flag: "ssl-upstream-insecure-skip-verify", kind: boolean, Advice: "authbridge does not proxy"},
		{Name: "ssl_insecure_skip_verify", Flag: "ssl-insecure-skip-verify", Security: true, kind: boolean, apply: refuseTrue,
			Advice: "not carried over: authbridge always verifies the provider's certificate; for a private CA set oidc.ca_file"},
		{Name: "signature_key", Flag: "signature-key", kind: str, Advice: "no GAP-Signature: the upstream verifies the bearer JWT"},

		// Listeners and the process.
		{Name: "http_address", Flag: "http-address", Key: "listen.http", kind: str, apply: applyHTTPAddress,
			Advice: "the browser-facing listener (/oauth2/start, callback, sign_out, userinfo); the gateway's auth_request goes to listen.forward_auth (:4181), a port of its own"},
		{Name: "https_address", Flag: "https-address", kind: str, Advice: "authbridge serves plain HTTP behind the gateway, which terminates TLS"},
		{Name: "tls_cert_file", Flag: "tls-cert-file", kind: str, Advice: "authbridge serves plain HTTP behind the gateway, which terminates TLS"},
		{Name: "tls_key_file", Flag: "tls-key-file", kind: str, Advice: "authbridge serves plain HTTP behind the gateway, which terminates TLS"},
		{Name: "metrics_address", Flag: "metrics-address", Key: "listen.admin", kind: str, apply: set("listen.admin"),
			Advice: "/metrics, /healthz and /readyz on the admin listener"},
		{Name: "reverse_proxy", Flag: "reverse-proxy", Key: "trusted_proxies", kind: boolean, apply: noteTrue,
			Advice: "authbridge believes X-Forwarded-* only from trusted_proxies (default: loopback and private ranges): list your gateway's addresses there"},
		{Name: "real_client_ip_header", Flag: "real-client-ip-header", Key: "trusted_proxies", kind: str,
			Advice: "authbridge takes the client address from the last X-Forwarded-For entry of a trusted proxy"},
		{Name: "proxy_prefix", Flag: "proxy-prefix", kind: str, apply: unlessValue("/oauth2"),
			Advice: "authbridge's paths are always under /oauth2/: route /oauth2/ to it"},
		{Name: "ping_path", Flag: "ping-path", kind: str, Advice: "liveness is /healthz on the admin listener (:9090)"},
		{Name: "ping_user_agent", Flag: "ping-user-agent", kind: str, Advice: "liveness is /healthz on the admin listener (:9090)"},
		{Name: "ready_path", Flag: "ready-path", kind: str, Advice: "readiness is /readyz on the admin listener (:9090)"},
		{Name: "gcp_healthchecks", Flag: "gcp-healthchecks", kind: boolean, Advice: "use /healthz and /readyz on the admin listener"},
		{Name: "force_https", Flag: "force-https", kind: boolean, Advice: "let the gateway redirect http to https"},
		{Name: "force_json_errors", Flag: "force-json-errors", kind: boolean, Advice: "scripts always get 401 with a JSON body"},
		{Name: "skip_provider_button", Flag: "skip-provider-button", kind: boolean, Advice: "authbridge shows no sign-in page: browsers go straight to the provider"},
		{Name: "custom_templates_dir", Flag: "custom-templates-dir", kind: str, Advice: "authbridge shows no sign-in page"},
		{Name: "banner", Flag: "banner", kind: str, Advice: "authbridge shows no sign-in page"},
		{Name: "footer", Flag: "footer", kind: str, Advice: "authbridge shows no sign-in page"},
		{Name: "display_htpasswd_form", Flag: "display-htpasswd-form", kind: boolean, Advice: "authbridge shows no sign-in page"},
		{Name: "show_debug_on_error", Flag: "show-debug-on-error", kind: boolean, Advice: "error pages never carry details"},
		{Name: "encode_state", Flag: "encode-state", kind: boolean, Advice: "the login state is opaque already"},
		{Name: "allow_query_semicolons", Flag: "allow-query-semicolons", kind: boolean, Advice: "not applicable"},
		{Name: "standard_logging", Flag: "standard-logging", Key: "log.level", kind: boolean, Advice: "one structured log (log.format json or text, log.level)"},
		{Name: "request_logging", Flag: "request-logging", Key: "log.level", kind: boolean, Advice: "per-request outcomes are logged at log.level debug"},
		{Name: "auth_logging", Flag: "auth-logging", Key: "log.level", kind: boolean, Advice: "refused and failed decisions are logged, one line each"},
		{Name: "standard_logging_format", Flag: "standard-logging-format", kind: str, Advice: "use log.format"},
		{Name: "request_logging_format", Flag: "request-logging-format", kind: str, Advice: "use log.format"},
		{Name: "auth_logging_format", Flag: "auth-logging-format", kind: str, Advice: "use log.format"},
		{Name: "logging_filename", Flag: "logging-filename", kind: str, Advice: "authbridge logs to stderr"},
		{Name: "silence_ping_logging", Flag: "silence-ping-logging", kind: boolean, Advice: "health checks are not logged"},
	}
}
