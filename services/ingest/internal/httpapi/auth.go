package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/newsflow/newsflow/pkg/config"
)

// Auth checks the bearer token of a request against every configured token, so that a new token
// can be rolled out to clients before the old one is removed.
//
// The check must not tell an attacker anything through its timing: not how long a token is, how
// many leading bytes of a guess were right, or which of the tokens matched. So both sides are
// hashed with SHA-256 first (the digests have one length, and subtle.ConstantTimeCompare returns
// at once on a length mismatch), and the presented digest is compared with every configured
// digest, OR-ing the verdicts without stopping at the first match. What a request costs then
// depends only on how many tokens are configured, which an attacker learns nothing from.
// Hashing is not for storage here (tokens are random, not passwords); it only equalises length.
type Auth struct {
	sums [][sha256.Size]byte
}

// NewAuth returns the check for tokens; none means nil (no authentication). Empty tokens are
// refused by configuration validation before this is called; here they are skipped so that an
// empty Authorization can never match.
func NewAuth(tokens []config.Secret) *Auth {
	a := &Auth{}
	for _, t := range tokens {
		if t != "" {
			a.sums = append(a.sums, sha256.Sum256([]byte(t)))
		}
	}
	if len(a.sums) == 0 {
		return nil
	}
	return a
}

// Tokens is how many tokens are accepted (for the start-up log and /readyz).
func (a *Auth) Tokens() int {
	if a == nil {
		return 0
	}
	return len(a.sums)
}

// Why a request was refused: the reason goes into the 401's body, the code into
// WWW-Authenticate (RFC 6750 §3: no error code when credentials are missing).
const (
	reasonMissing  = "missing bearer token: send Authorization: Bearer <token>"
	reasonScheme   = "Authorization is not a bearer token: send Authorization: Bearer <token>"
	reasonWrong    = "wrong bearer token"
	challengeRealm = `Bearer realm="newsflow ingest"`
)

// Check reports whether the Authorization header value carries a configured token, and if not,
// why not (never echoing what was presented) and the WWW-Authenticate challenge to answer with.
func (a *Auth) Check(header string) (ok bool, reason, challenge string) {
	if a == nil {
		return true, "", ""
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return false, reasonMissing, challengeRealm
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return false, reasonScheme, challengeRealm + `, error="invalid_request"`
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false, reasonMissing, challengeRealm + `, error="invalid_request"`
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.sums {
		match |= subtle.ConstantTimeCompare(got[:], a.sums[i][:])
	}
	if match != 1 {
		return false, reasonWrong, challengeRealm + `, error="invalid_token"`
	}
	return true, "", ""
}

// authorize answers 401 for a request without a configured token and reports whether it may go on.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) (int, bool) {
	ok, reason, challenge := h.Auth.Check(r.Header.Get("Authorization"))
	if ok {
		return 0, true
	}
	w.Header().Set("WWW-Authenticate", challenge)
	return h.fail(w, http.StatusUnauthorized, reason, nil), false
}
