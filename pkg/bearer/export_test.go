package bearer

// SetSignatureHook makes v call f before every signature check. Call it before v is used.
func SetSignatureHook(v *Verifier, f func()) { v.onSignature = f }

// CacheLen returns the number of cached tokens, expired ones not yet dropped included.
func CacheLen(v *Verifier) int { return v.cache.len() }

// TokenKey is the cache key of a token.
var TokenKey = tokenKey
