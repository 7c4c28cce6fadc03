package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// Credentials are the stored HA1 digests of one user, lower-case hex as
// returned by HA1. Either may be empty when the user has no digest for that
// algorithm; Verify then treats the user as unknown for it.
type Credentials struct {
	HA1MD5    string
	HA1SHA256 string
}

// Options configure an Authenticator; the zero value is usable.
type Options struct {
	// Secret keys the nonce MAC. Nodes that share it accept each other's
	// nonces. Nil means a random secret private to this Authenticator.
	Secret []byte
	// NonceTTL is how long a nonce is accepted before it is reported stale.
	// Default 5 minutes.
	NonceTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxNonces bounds the replay table: one entry (under 100 bytes) per
	// nonce that carried a valid response within NonceTTL. Default 500000
	// (at most about 45 MB), enough for 1600 fresh nonces a second at the
	// default TTL. When full,
	// the older half is forgotten: those nonces are then reported stale
	// (the phone retries with a new one), never accepted twice.
	MaxNonces int
}

// Result is the outcome of Verify.
type Result struct {
	// OK is true when the request carries a valid, fresh, unreplayed response.
	OK bool
	// User is the username the client claimed (set whenever it could be parsed).
	User string
	// Stale is true when the response was right but the nonce is no longer
	// usable: challenge again with stale=true so the phone retries silently.
	Stale bool
	// Repeated is true (with Stale) when the response is right and repeats
	// the newest nonce count exactly: a retransmission of the request that
	// used it, or a replay of that very request. A stateless registrar
	// answers it as before if that request's change is still in place, and
	// otherwise asks for a new nonce; it is never taken as a new request.
	Repeated bool
	// Reason says why Verify failed, for logs only: it never holds secrets or
	// digests, and must not be sent to the client (it tells unknown users
	// from wrong passwords).
	Reason string
}

// Reasons reported by Verify. Unknown users and wrong passwords differ only
// here, never in the other Result fields.
const (
	reasonMalformed   = "malformed authorization header"
	reasonScheme      = "authorization scheme is not Digest"
	reasonRealm       = "realm mismatch"
	reasonAlgorithm   = "unsupported algorithm"
	reasonQOP         = "unsupported qop"
	reasonUserhash    = "userhash not supported"
	reasonNonce       = "nonce not issued by us"
	reasonUnknownUser = "unknown user"
	reasonNoHA1       = "no stored HA1 for algorithm"
	reasonBadHA1      = "stored HA1 is not valid hex"
	reasonResponse    = "wrong response"
	reasonExpired     = "nonce expired"
	reasonForgotten   = "nonce forgotten by replay table"
	reasonReplay      = "nonce count replayed"
	reasonReused      = "nonce reused without qop"
	reasonRepeated    = "nonce count repeated"
)

const (
	nonceTSLen   = 8
	nonceRandLen = 12
	nonceTagLen  = 16
	nonceRawLen  = nonceTSLen + nonceRandLen + nonceTagLen
	nonceLen     = nonceRawLen / 3 * 4 // base64 without padding; 36 is a multiple of 3

	// maxHeader bounds the work an attacker can ask of the parser; real
	// Authorization headers are a few hundred bytes.
	maxHeader = 4096
	// maxSkew tolerates nonces from a peer node whose clock runs ahead.
	maxSkew = time.Minute
)

// algo identifies a supported digest algorithm.
type algo uint8

const (
	algoMD5 algo = iota
	algoSHA256
)

func (a algo) name() string {
	if a == algoSHA256 {
		return SHA256
	}
	return MD5
}

// size is the digest length in bytes.
func (a algo) size() int {
	if a == algoSHA256 {
		return sha256.Size
	}
	return md5.Size
}

// Authenticator issues digest challenges and verifies the answers. It is
// safe for concurrent use.
type Authenticator struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// dummy HA1s stand in for unknown users so that they cost the same
	// work as a wrong password.
	dummyMD5, dummySHA256 string

	scratch sync.Pool // *scratch
	nc      ncTable
}

// scratch holds the per-call buffers and keyed MAC so that Verify does not
// allocate; one is taken from the pool per call.
type scratch struct {
	mac hash.Hash
	buf []byte
	sum []byte
	raw [nonceRawLen]byte
}

// NewAuthenticator returns an Authenticator configured by opts.
func NewAuthenticator(opts Options) *Authenticator {
	a := &Authenticator{
		secret: opts.Secret,
		ttl:    opts.NonceTTL,
		now:    opts.Now,
	}
	if a.secret == nil {
		a.secret = make([]byte, 32)
		rand.Read(a.secret)
	} else {
		// Copy so the caller cannot change the key under us.
		a.secret = append([]byte(nil), a.secret...)
	}
	if a.ttl <= 0 {
		a.ttl = 5 * time.Minute
	}
	if a.now == nil {
		a.now = time.Now
	}
	maxNonces := opts.MaxNonces
	if maxNonces <= 0 {
		maxNonces = 500000
	}
	var d [sha256.Size]byte
	rand.Read(d[:])
	a.dummySHA256 = hex.EncodeToString(d[:])
	a.dummyMD5 = a.dummySHA256[:2*md5.Size]
	a.scratch.New = func() any {
		return &scratch{
			mac: hmac.New(sha256.New, a.secret),
			buf: make([]byte, 0, 512),
			sum: make([]byte, 0, sha256.Size),
		}
	}
	a.nc = ncTable{m: make(map[[nonceTagLen]byte]ncEntry), max: maxNonces, ttl: a.ttl.Nanoseconds()}
	return a
}

// Challenge returns the WWW-Authenticate / Proxy-Authenticate values to
// send, one per algorithm in the order given (RFC 8760 §2.4: the client
// uses the first it supports), all sharing one nonce. With no algorithms it
// offers SHA-256, then MD5. Names are matched case-insensitively; unknown
// ones are skipped (check configuration with CheckAlgorithms at start).
func (a *Authenticator) Challenge(realm string, stale bool, algorithms ...string) []string {
	if len(algorithms) == 0 {
		algorithms = defaultAlgorithms
	}
	nonce := a.newNonce(realm, a.now())
	out := make([]string, 0, len(algorithms))
	for _, alg := range algorithms {
		switch {
		case strings.EqualFold(alg, SHA256):
			out = append(out, formatChallenge(realm, nonce, SHA256, stale))
		case strings.EqualFold(alg, MD5):
			out = append(out, formatChallenge(realm, nonce, MD5, stale))
		}
	}
	return out
}

var defaultAlgorithms = []string{SHA256, MD5}

// CheckAlgorithms refuses algorithm names Challenge and Verify do not know.
func CheckAlgorithms(algorithms []string) error {
	for _, a := range algorithms {
		if !strings.EqualFold(a, MD5) && !strings.EqualFold(a, SHA256) {
			return fmt.Errorf("digest algorithm %q: use %s or %s", a, SHA256, MD5)
		}
	}
	return nil
}

func formatChallenge(realm, nonce, algorithm string, stale bool) string {
	var b strings.Builder
	b.Grow(len(realm) + len(nonce) + 80)
	b.WriteString(`Digest realm=`)
	writeQuoted(&b, realm)
	b.WriteString(`, nonce="`)
	b.WriteString(nonce) // base64url: nothing to escape
	b.WriteString(`", algorithm=`)
	b.WriteString(algorithm)
	b.WriteString(`, qop="auth"`)
	if stale {
		b.WriteString(`, stale=true`)
	}
	return b.String()
}

// writeQuoted writes s as an RFC 3261 quoted-string.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// newNonce returns base64url(timestamp | random | tag), where tag is a
// truncated HMAC-SHA256 over timestamp, random and realm. The nonce carries
// all the server needs to check it, so issuing one costs no memory and any
// node holding the secret can verify it.
func (a *Authenticator) newNonce(realm string, now time.Time) string {
	s := a.scratch.Get().(*scratch)
	defer a.scratch.Put(s)
	raw := &s.raw
	binary.BigEndian.PutUint64(raw[:nonceTSLen], uint64(now.UnixNano()))
	rand.Read(raw[nonceTSLen : nonceTSLen+nonceRandLen])
	tag := s.tag(raw[:nonceTSLen+nonceRandLen], realm)
	copy(raw[nonceTSLen+nonceRandLen:], tag)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// tag computes the nonce MAC over body and realm into s.sum.
func (s *scratch) tag(body []byte, realm string) []byte {
	s.mac.Reset()
	s.buf = append(append(s.buf[:0], body...), realm...)
	s.mac.Write(s.buf)
	s.sum = s.mac.Sum(s.sum[:0])
	return s.sum[:nonceTagLen]
}

// checkNonce reports whether nonce was issued by an Authenticator holding
// our secret for realm, and if so when, and its tag (the replay-table key).
func (s *scratch) checkNonce(nonce, realm string) (issued int64, tag [nonceTagLen]byte, ok bool) {
	if len(nonce) != nonceLen {
		return 0, tag, false
	}
	s.buf = append(s.buf[:0], nonce...)
	n, err := base64.RawURLEncoding.Decode(s.raw[:], s.buf)
	if err != nil || n != nonceRawLen {
		return 0, tag, false
	}
	copy(tag[:], s.raw[nonceTSLen+nonceRandLen:])
	want := s.tag(s.raw[:nonceTSLen+nonceRandLen], realm)
	if !hmac.Equal(want, tag[:]) {
		return 0, tag, false
	}
	return int64(binary.BigEndian.Uint64(s.raw[:nonceTSLen])), tag, true
}

// Verify checks an Authorization (or Proxy-Authorization) header value sent
// with a request of the given method against realm, looking the claimed
// user's HA1 up with lookup. It accepts qop=auth responses (RFC 7616) and
// legacy responses without qop (RFC 2069), algorithm MD5 or SHA-256. The
// digest covers the header's uri, which Verify takes as sent; comparing it
// with the Request-URI is left to the caller.
func (a *Authenticator) Verify(method, header string, realm string, lookup func(user string) (Credentials, bool)) Result {
	var p authParams
	if reason := p.parse(header); reason != "" {
		return Result{User: p.username, Reason: reason}
	}
	res := Result{User: p.username}
	if p.realm != realm {
		res.Reason = reasonRealm
		return res
	}
	var alg algo
	switch {
	case p.algorithm == "" || strings.EqualFold(p.algorithm, MD5):
		alg = algoMD5
	case strings.EqualFold(p.algorithm, SHA256):
		alg = algoSHA256
	default:
		res.Reason = reasonAlgorithm
		return res
	}
	if p.userhash {
		res.Reason = reasonUserhash
		return res
	}
	// nc 0 marks a legacy response without qop in the replay table.
	var nc uint32
	if p.has&hasQOP != 0 {
		if !strings.EqualFold(p.qop, "auth") {
			res.Reason = reasonQOP
			return res
		}
		var ok bool
		if nc, ok = parseNC(p.nc); !ok || p.cnonce == "" {
			res.Reason = reasonMalformed
			return res
		}
	}
	var got [sha256.Size]byte
	if len(p.response) != 2*alg.size() {
		res.Reason = reasonMalformed
		return res
	}
	if !decodeHex(got[:], p.response) {
		res.Reason = reasonMalformed
		return res
	}

	s := a.scratch.Get().(*scratch)
	defer a.scratch.Put(s)
	issued, tag, ok := s.checkNonce(p.nonce, realm)
	if !ok {
		res.Reason = reasonNonce
		return res
	}

	// From here on unknown users, users without an HA1 for this algorithm
	// and wrong passwords take the same path and the same work: a response
	// is computed against a dummy HA1, and all end in the same Result.
	creds, known := lookup(p.username)
	ha1 := creds.HA1MD5
	if alg == algoSHA256 {
		ha1 = creds.HA1SHA256
	}
	var reason string
	switch {
	case !known:
		reason = reasonUnknownUser
	case ha1 == "":
		reason = reasonNoHA1
	case len(ha1) != 2*alg.size() || !isHex(ha1):
		reason = reasonBadHA1
	}
	if reason != "" {
		ha1 = a.dummyMD5
		if alg == algoSHA256 {
			ha1 = a.dummySHA256
		}
	}
	want := s.response(alg, ha1, method, p.uri, p.nonce, p.nc, p.cnonce, p.qop)
	match := subtle.ConstantTimeCompare(want, got[:alg.size()]) == 1
	if reason == "" && !match {
		reason = reasonResponse
	}
	if reason != "" {
		res.Reason = reason
		return res
	}

	// The client knows the password. A nonce that is too old (or from a
	// clock far ahead) is stale: RFC 7616 §3.3 has the server say so only
	// when the response is right, and the phone then retries with the new
	// nonce without bothering the user.
	now := a.now().UnixNano()
	if now-issued > a.ttl.Nanoseconds() || issued-now > maxSkew.Nanoseconds() {
		res.Stale, res.Reason = true, reasonExpired
		return res
	}
	switch a.nc.use(tag, issued, nc, now) {
	case ncOK:
		res.OK = true
	case ncForgotten:
		res.Stale, res.Reason = true, reasonForgotten
	case ncReused:
		// A legacy client may reuse its nonce in good faith; make it fetch a
		// new one rather than accept a possible replay.
		res.Stale, res.Reason = true, reasonReused
	case ncRepeated:
		// Over UDP this is usually a retransmission whose answer was lost
		// (REGISTER is answered without a transaction): not a failure.
		res.Stale, res.Repeated, res.Reason = true, true, reasonRepeated
	default:
		res.Reason = reasonReplay
	}
	return res
}

// response computes the raw request-digest of RFC 7616 §3.4.1 (qop=auth)
// or RFC 2069 (qop empty) into s.sum. ha1 is lower-cased as it is hashed
// because the hex in A1 must be lower case and stores may differ.
func (s *scratch) response(alg algo, ha1, method, uri, nonce, nc, cnonce, qop string) []byte {
	var ha2 [2 * sha256.Size]byte
	b := append(append(append(s.buf[:0], method...), ':'), uri...)
	hexsum(alg, ha2[:], b)

	b = b[:0]
	for i := 0; i < len(ha1); i++ {
		c := ha1[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(append(b, ':'), nonce...)
	if qop != "" {
		b = append(append(b, ':'), nc...)
		b = append(append(b, ':'), cnonce...)
		b = append(append(b, ':'), qop...)
	}
	b = append(append(b, ':'), ha2[:2*alg.size()]...)
	s.buf = b
	if alg == algoSHA256 {
		sum := sha256.Sum256(b)
		s.sum = append(s.sum[:0], sum[:]...)
	} else {
		sum := md5.Sum(b)
		s.sum = append(s.sum[:0], sum[:]...)
	}
	return s.sum
}

// hexsum writes the lower-case hex digest of b into dst.
func hexsum(alg algo, dst, b []byte) {
	if alg == algoSHA256 {
		sum := sha256.Sum256(b)
		hex.Encode(dst, sum[:])
		return
	}
	sum := md5.Sum(b)
	hex.Encode(dst, sum[:])
}

// decodeHex decodes the hex string s into dst[:len(s)/2]; it avoids the
// []byte conversion hex.Decode would need.
func decodeHex(dst []byte, s string) bool {
	if len(s)%2 != 0 || len(s)/2 > len(dst) {
		return false
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i/2] = hi<<4 | lo
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if _, ok := fromHex(s[i]); !ok {
			return false
		}
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseNC parses the 8-hex-digit nonce count; fewer digits are tolerated
// because the response covers the string as sent. Zero is invalid: counts
// start at 1.
func parseNC(s string) (uint32, bool) {
	if len(s) == 0 || len(s) > 8 {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		c, ok := fromHex(s[i])
		if !ok {
			return 0, false
		}
		n = n<<4 | uint32(c)
	}
	return n, n != 0
}

// ncTable remembers the highest nonce count seen per nonce, for nonces that
// carried a valid response and have not expired. It is the only memory
// nonces cost, and it is bounded.
type ncTable struct {
	mu  sync.Mutex
	m   map[[nonceTagLen]byte]ncEntry
	max int
	ttl int64
	// low: every nonce issued before it that is not in m was dropped (expired
	// or evicted), so it must not be accepted as new.
	low       int64
	nextSweep int64
}

type ncEntry struct {
	issued int64
	nc     uint32
}

type ncStatus uint8

const (
	ncOK ncStatus = iota
	ncReplay
	ncReused
	ncRepeated
	ncForgotten
)

// use records nc for the nonce with tag, issued at issued, at time now.
func (t *ncTable) use(tag [nonceTagLen]byte, issued int64, nc uint32, now int64) ncStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now >= t.nextSweep {
		t.sweep(now)
	}
	if e, ok := t.m[tag]; ok {
		switch {
		case nc == 0 && e.nc == 0:
			return ncReused
		case nc == e.nc:
			return ncRepeated
		case nc < e.nc:
			return ncReplay
		}
		e.nc = nc
		t.m[tag] = e
		return ncOK
	}
	if issued < t.low {
		return ncForgotten
	}
	if len(t.m) >= t.max {
		t.sweep(now)
		if len(t.m) >= t.max {
			t.evict()
		}
		if issued < t.low {
			return ncForgotten
		}
	}
	t.m[tag] = ncEntry{issued: issued, nc: nc}
	return ncOK
}

// sweep drops the entries of expired nonces; they can only be stale now.
func (t *ncTable) sweep(now int64) {
	t.nextSweep = now + t.ttl/4
	t.raiseLow(now - t.ttl)
}

// evict drops roughly the older half of the table (by issue time) when it is
// full of live nonces, so the cost is amortised over many inserts.
func (t *ncTable) evict() {
	lo, hi := int64(1<<63-1), int64(-1<<63)
	for _, e := range t.m {
		lo, hi = min(lo, e.issued), max(hi, e.issued)
	}
	t.raiseLow(lo + (hi-lo)/2 + 1)
}

func (t *ncTable) raiseLow(low int64) {
	if low <= t.low {
		return
	}
	t.low = low
	for k, e := range t.m {
		if e.issued < low {
			delete(t.m, k)
		}
	}
}

// ForTransport orders the digest algorithms offered to a client on
// transport: browsers (ws, wss) get MD5 first, because JsSIP and SIP.js
// read only the first challenge and abort on any other algorithm; other
// transports keep the configured order (nil: Challenge's default). A
// configuration without MD5 is kept as it is.
func ForTransport(algorithms []string, transport string) []string {
	if !strings.EqualFold(transport, "ws") && !strings.EqualFold(transport, "wss") {
		return algorithms
	}
	if len(algorithms) == 0 {
		algorithms = []string{SHA256, MD5}
	}
	hasMD5 := false
	for _, a := range algorithms {
		hasMD5 = hasMD5 || strings.EqualFold(a, MD5)
	}
	if !hasMD5 {
		// The admin ruled MD5 out: browsers cannot log in, as documented.
		return algorithms
	}
	out := []string{MD5}
	for _, a := range algorithms {
		if !strings.EqualFold(a, MD5) {
			out = append(out, a)
		}
	}
	return out
}
