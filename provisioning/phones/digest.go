package phones

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"net/url"
	"strings"
	"time"
)

// HTTP digest authentication, server side (RFC 7616), written here rather
// than taken from sip/auth: HTTP needs qop=auth only, no nonce-count table
// (a replayed request can only fetch the file the eavesdropper already
// saw), and the realm, the method and the request URI differ from SIP's.

// Digest algorithm names as they appear in challenges.
const (
	AlgorithmMD5    = "MD5"
	AlgorithmSHA256 = "SHA-256"
)

// maxAuthorization bounds the parser's work; real headers are a few
// hundred bytes.
const maxAuthorization = 4096

// maxSkew tolerates nonces from a node whose clock runs a little ahead.
const maxSkew = time.Minute

const (
	nonceTSLen   = 8
	nonceRandLen = 8
	nonceTagLen  = 16
	nonceRawLen  = nonceTSLen + nonceRandLen + nonceTagLen
)

var nonceLen = base64.RawURLEncoding.EncodedLen(nonceRawLen)

// credentials are the parameters of a Digest Authorization header.
type credentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string
	Response  string
	Algorithm string
	Cnonce    string
	Opaque    string
	QOP       string
	NC        string
	Userhash  string
}

var (
	errMalformed = errors.New("malformed Authorization header")
	errScheme    = errors.New("authorization scheme is not Digest")
	errDuplicate = errors.New("parameter given twice")
	errMissing   = errors.New("required parameter missing")
)

// parseAuthorization reads an Authorization header value of the Digest
// scheme (RFC 7235 §2.1, RFC 7616 §3.4). Parameter names are
// case-insensitive; unknown parameters are skipped (RFC 7616 allows
// extensions); a parameter given twice is refused, so that we never check
// one value while a log or proxy shows the other.
func parseAuthorization(h string) (credentials, error) {
	var c credentials
	if len(h) > maxAuthorization {
		return c, errMalformed
	}
	i := skipWS(h, 0)
	j := i
	for j < len(h) && isTokenChar(h[j]) {
		j++
	}
	if j == i {
		return c, errMalformed
	}
	if !strings.EqualFold(h[i:j], "Digest") {
		return c, errScheme
	}
	if j < len(h) && !isWS(h[j]) {
		return c, errMalformed
	}
	seen := map[string]bool{}
	i = j
	for {
		// The #rule allows empty list elements: skip runs of commas.
		for i < len(h) && (isWS(h[i]) || h[i] == ',') {
			i++
		}
		if i == len(h) {
			break
		}
		j = i
		for j < len(h) && isTokenChar(h[j]) {
			j++
		}
		if j == i {
			return c, errMalformed
		}
		name := strings.ToLower(h[i:j])
		i = skipWS(h, j)
		if i == len(h) || h[i] != '=' {
			return c, errMalformed
		}
		i = skipWS(h, i+1)
		var value string
		if i < len(h) && h[i] == '"' {
			var ok bool
			if value, i, ok = unquote(h, i); !ok {
				return c, errMalformed
			}
		} else {
			j = i
			for j < len(h) && isTokenChar(h[j]) {
				j++
			}
			if j == i {
				return c, errMalformed
			}
			value, i = h[i:j], j
		}
		i = skipWS(h, i)
		if i < len(h) && h[i] != ',' {
			return c, errMalformed
		}
		dst := c.field(name)
		if dst == nil {
			continue
		}
		if seen[name] {
			return c, errDuplicate
		}
		seen[name] = true
		*dst = value
	}
	for _, n := range []string{"username", "realm", "nonce", "uri", "response"} {
		if !seen[n] {
			return c, errMissing
		}
	}
	return c, nil
}

// field returns where the parameter called name (lower case) is kept, or
// nil for parameters we do not use.
func (c *credentials) field(name string) *string {
	switch name {
	case "username":
		return &c.Username
	case "realm":
		return &c.Realm
	case "nonce":
		return &c.Nonce
	case "uri":
		return &c.URI
	case "response":
		return &c.Response
	case "algorithm":
		return &c.Algorithm
	case "cnonce":
		return &c.Cnonce
	case "opaque":
		return &c.Opaque
	case "qop":
		return &c.QOP
	case "nc":
		return &c.NC
	case "userhash":
		return &c.Userhash
	}
	return nil
}

// String formats c as an Authorization header value that
// parseAuthorization reads back to c (the fuzz target checks this).
func (c credentials) String() string {
	var b strings.Builder
	b.WriteString("Digest ")
	first := true
	add := func(name, v string, always bool) {
		if v == "" && !always {
			return
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	add("username", c.Username, true)
	add("realm", c.Realm, true)
	add("nonce", c.Nonce, true)
	add("uri", c.URI, true)
	add("response", c.Response, true)
	add("algorithm", c.Algorithm, false)
	add("cnonce", c.Cnonce, false)
	add("opaque", c.Opaque, false)
	add("qop", c.QOP, false)
	add("nc", c.NC, false)
	add("userhash", c.Userhash, false)
	return b.String()
}

func isWS(b byte) bool { return b == ' ' || b == '\t' }

func skipWS(s string, i int) int {
	for i < len(s) && isWS(s[i]) {
		i++
	}
	return i
}

// isTokenChar reports whether b may appear in an RFC 7230 token.
func isTokenChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// unquote reads the quoted-string starting at s[i] == '"' and returns its
// value and the index after the closing quote. Control characters other
// than tab are refused (RFC 7230 qdtext).
func unquote(s string, i int) (string, int, bool) {
	i++
	start := i
	escaped := false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			v := s[start:i]
			if escaped {
				var b strings.Builder
				for k := 0; k < len(v); k++ {
					if v[k] == '\\' {
						k++
					}
					b.WriteByte(v[k])
				}
				v = b.String()
			}
			return v, i + 1, true
		case c == '\\':
			if i+1 == len(s) || (s[i+1] < ' ' && s[i+1] != '\t') || s[i+1] == 0x7f {
				return "", 0, false
			}
			escaped = true
			i++
		case c < ' ' && c != '\t', c == 0x7f:
			return "", 0, false
		}
	}
	return "", 0, false
}

// quote returns s as a quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// newHash returns the hash of a supported algorithm (case-insensitive; an
// absent algorithm means MD5, RFC 7616 §3.4), or nil.
func newHash(algorithm string) func() hash.Hash {
	switch {
	case algorithm == "", strings.EqualFold(algorithm, AlgorithmMD5):
		return md5.New
	case strings.EqualFold(algorithm, AlgorithmSHA256):
		return sha256.New
	}
	return nil
}

func hexHash(h func() hash.Hash, parts ...string) string {
	d := h()
	for i, p := range parts {
		if i > 0 {
			d.Write([]byte{':'})
		}
		d.Write([]byte(p))
	}
	return hex.EncodeToString(d.Sum(nil))
}

// digester issues and checks nonces. A nonce is
// base64url(timestamp | random | tag) with tag a truncated HMAC-SHA256 over
// timestamp, random, realm and MAC: checking it needs no memory, and a
// nonce issued for one phone's file is worthless for another's.
type digester struct {
	key        []byte
	ttl        time.Duration
	now        func() time.Time
	algorithms []string
	random     func([]byte)
}

func (d *digester) tag(body []byte, realm, mac string) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write(body)
	m.Write([]byte{0})
	m.Write([]byte(realm))
	m.Write([]byte{0})
	m.Write([]byte(mac))
	return m.Sum(nil)[:nonceTagLen]
}

func (d *digester) nonce(realm, mac string) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:nonceTSLen], uint64(d.now().UnixNano()))
	d.random(raw[nonceTSLen : nonceTSLen+nonceRandLen])
	copy(raw[nonceTSLen+nonceRandLen:], d.tag(raw[:nonceTSLen+nonceRandLen], realm, mac))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// nonceState is what checkNonce finds.
type nonceState int

const (
	nonceBad nonceState = iota
	nonceFresh
	nonceStale
)

func (d *digester) checkNonce(nonce, realm, mac string) nonceState {
	if len(nonce) != nonceLen {
		return nonceBad
	}
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen {
		return nonceBad
	}
	body := raw[:nonceTSLen+nonceRandLen]
	if !hmac.Equal(d.tag(body, realm, mac), raw[nonceTSLen+nonceRandLen:]) {
		return nonceBad
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:nonceTSLen])))
	age := d.now().Sub(issued)
	switch {
	case age < -maxSkew:
		return nonceBad
	case age > d.ttl:
		return nonceStale
	}
	return nonceFresh
}

// challenges returns the WWW-Authenticate values for a device's file, one
// per algorithm in preference order (RFC 7616 §3.7), sharing one nonce.
func (d *digester) challenges(realm, mac string, stale bool) []string {
	nonce := d.nonce(realm, mac)
	out := make([]string, 0, len(d.algorithms))
	for _, alg := range d.algorithms {
		v := "Digest realm=" + quote(realm) + `, qop="auth", algorithm=` + alg + `, nonce="` + nonce + `"`
		if stale {
			v += ", stale=true"
		}
		out = append(out, v)
	}
	return out
}

// Reasons a request is refused; logged, never sent to the phone.
const (
	reasonNoCredentials = "no credentials"
	reasonUser          = "username is not the device's"
	reasonRealm         = "wrong realm"
	reasonURI           = "uri does not match the request"
	reasonAlgorithm     = "algorithm not offered"
	reasonQOP           = "qop is not auth"
	reasonUserhash      = "userhash not supported"
	reasonNonce         = "nonce not issued for this device"
	reasonResponse      = "wrong response (password)"
	reasonStale         = "nonce expired"
)

// verify checks a parsed Authorization against a device. It returns "" when
// the request is authentic; otherwise the reason, and whether to challenge
// with stale=true (the response was right but the nonce has expired, so
// the phone should retry with a new nonce without asking anyone for a
// password: RFC 7616 §3.3).
func (d *digester) verify(c credentials, method, requestURI string, dev Device, realm string) (reason string, stale bool) {
	if c.Username != dev.AuthUser || dev.AuthUser == "" {
		return reasonUser, false
	}
	if c.Realm != realm {
		return reasonRealm, false
	}
	if !sameURI(c.URI, requestURI) {
		return reasonURI, false
	}
	if c.Userhash != "" && !strings.EqualFold(c.Userhash, "false") {
		return reasonUserhash, false
	}
	h := newHash(c.Algorithm)
	if h == nil || !d.offers(c.Algorithm) {
		return reasonAlgorithm, false
	}
	// RFC 7616 requires qop; the RFC 2069 form without it has no client
	// nonce and we never offer it.
	if c.QOP != "auth" || c.Cnonce == "" || !validNC(c.NC) {
		return reasonQOP, false
	}
	state := d.checkNonce(c.Nonce, realm, dev.MAC)
	if state == nonceBad {
		return reasonNonce, false
	}
	ha1 := hexHash(h, dev.AuthUser, realm, dev.Secret)
	ha2 := hexHash(h, method, c.URI)
	want := hexHash(h, ha1, c.Nonce, c.NC, c.Cnonce, c.QOP, ha2)
	got, err := hex.DecodeString(c.Response)
	wantRaw, _ := hex.DecodeString(want)
	if err != nil || !hmac.Equal(got, wantRaw) {
		return reasonResponse, false
	}
	if state == nonceStale {
		return reasonStale, true
	}
	return "", false
}

// offers reports whether alg is one of the algorithms we challenge with
// (an absent algorithm is MD5).
func (d *digester) offers(alg string) bool {
	if alg == "" {
		alg = AlgorithmMD5
	}
	for _, a := range d.algorithms {
		if strings.EqualFold(a, alg) {
			return true
		}
	}
	return false
}

func validNC(nc string) bool {
	if len(nc) != 8 {
		return false
	}
	_, err := hex.DecodeString(nc)
	return err == nil
}

// sameURI reports whether the digest's uri names the request target: the
// same string, or an absolute URI (as a client talking to a proxy sends)
// with the same path and query.
func sameURI(digestURI, requestURI string) bool {
	if digestURI == requestURI {
		return true
	}
	u, err := url.Parse(digestURI)
	if err != nil || !u.IsAbs() {
		return false
	}
	return u.RequestURI() == requestURI
}
