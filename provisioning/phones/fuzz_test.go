package phones

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzParseAuthorization feeds arbitrary Authorization headers to the
// parser and to the whole verification. The parser must never panic; what
// it accepts must have every required parameter and survive a round trip
// through credentials.String; and verification must never accept a header
// whose nonce this digester did not issue (the key is fresh per run, so
// every nonce in the corpus is foreign).
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="ph001565aabbcc", realm="fjordvik.test", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="/prov/001565aabbcc.cfg", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"`,
		`Digest username="a\"b", realm="r", nonce="n", uri="/", response="0", userhash=false`,
		`digest USERNAME=a,,realm=r,nonce=n,uri=x,response=0`,
		`Digest username="a", username="a", realm="r", nonce="n", uri="/", response="0"`,
		"Digest username=\"\t\", realm=\"\xff\", nonce=\"n\", uri=\"/\", response=\"0\"",
		`Basic YTpi`,
		`Digest username="a\`,
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	key := make([]byte, 32)
	rand.Read(key)
	d := &digester{key: key, ttl: time.Minute, now: func() time.Time { return now },
		algorithms: []string{AlgorithmSHA256, AlgorithmMD5}, random: func([]byte) {}}
	dev := Device{MAC: "001565aabbcc", AuthUser: "ph001565aabbcc", Secret: "Yk3mPq7RtV9wXz2AbCdE"}
	f.Fuzz(func(t *testing.T, h string) {
		c, err := parseAuthorization(h)
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.ToLower(strings.TrimLeft(h, " \t")), "digest") {
			t.Fatalf("accepted a non-Digest header %q", h)
		}
		again, err := parseAuthorization(c.String())
		if err != nil || again != c {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", h, again, err, c)
		}
		if reason, _ := d.verify(c, http.MethodGet, "/prov/001565aabbcc.cfg", dev, "fjordvik.test"); reason == "" {
			t.Fatalf("accepted a header with a nonce we never issued: %q", h)
		}
	})
}
