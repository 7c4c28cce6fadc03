package trunk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

var (
	// errRealmMismatch: the challenge names a realm other than the one
	// configured for the trunk. Answering would hand a digest of our
	// password to whoever sits in the path (a hijacked DNS name, a
	// misrouted request), so we refuse.
	errRealmMismatch = errors.New("challenge realm is not the trunk's realm")
	// errNoChallenge: a 401/407 without a challenge we can answer.
	errNoChallenge = errors.New("no usable digest challenge")
	// errRefused: the registrar challenged the credentials it had just
	// been given, without saying the nonce was stale: wrong password.
	errRefused = errors.New("credentials refused")
)

// authState is the challenge we answer, kept across REGISTERs so refreshes
// carry credentials at once (one round trip instead of two) with an
// increasing nonce count, as qop=auth requires (RFC 7616 §3.4).
type authState struct {
	chal  *digest.Challenge
	proxy bool // a 407: answer in Proxy-Authorization
	nc    int  // the last nonce count used with chal.Nonce
	fresh bool // chal came in the current attempt
}

// usableAlgorithm reports whether we can answer a challenge's algorithm:
// MD5 (also when absent) and SHA-256 (RFC 8760).
func usableAlgorithm(alg string) bool {
	switch strings.ToUpper(alg) {
	case "", "MD5", "SHA-256":
		return true
	}
	return false
}

// pickChallenge returns the first challenge among the header values that
// we can answer, in the registrar's order (RFC 8760 §2.4: it lists them
// by preference). With realm set, only a challenge in that realm will
// do, and errRealmMismatch names the realm that was offered.
func pickChallenge(values []string, realm string) (*digest.Challenge, error) {
	var offered string
	for _, v := range values {
		c, err := digest.ParseChallenge(v)
		if err != nil || c.Nonce == "" || !usableAlgorithm(c.Algorithm) {
			continue
		}
		// icholy/digest splits qop="auth, auth-int" at commas without
		// trimming, so " auth-int" would not be recognised.
		for i := range c.QOP {
			c.QOP[i] = strings.TrimSpace(c.QOP[i])
		}
		if len(c.QOP) > 0 && !c.SupportsQOP("auth") && !c.SupportsQOP("auth-int") {
			continue
		}
		if realm != "" && c.Realm != realm {
			if offered == "" {
				offered = c.Realm
			}
			continue
		}
		return c, nil
	}
	if offered != "" {
		return nil, fmt.Errorf("%w: offered %q, configured %q", errRealmMismatch, offered, realm)
	}
	return nil, errNoChallenge
}

// authorize adds credentials for the next request on the kept challenge.
// The nonce count goes up on every use, including retransmitted attempts,
// because a registrar checking replays refuses a count it has seen.
func (a *authState) authorize(req *sip.Request, username, password string) error {
	a.nc++
	cred, err := digest.Digest(a.chal, digest.Options{
		Method:   string(req.Method),
		URI:      req.Recipient.String(),
		Username: username,
		Password: password,
		Count:    a.nc,
	})
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	name := "Authorization"
	if a.proxy {
		name = "Proxy-Authorization"
	}
	req.RemoveHeader(name)
	req.AppendHeader(sip.NewHeader(name, cred.String()))
	return nil
}
