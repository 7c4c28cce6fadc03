package phones

import (
	"strings"
	"testing"
	"time"
)

func TestParseAuthorization(t *testing.T) {
	full := `Digest username="ph001565aabbcc", realm="fjordvik.test", nonce="abc", uri="/prov/001565aabbcc.cfg", ` +
		`algorithm=SHA-256, qop=auth, nc=00000001, cnonce="xyz", response="0123abcd"`
	c, err := parseAuthorization(full)
	if err != nil {
		t.Fatal(err)
	}
	want := credentials{Username: "ph001565aabbcc", Realm: "fjordvik.test", Nonce: "abc", URI: "/prov/001565aabbcc.cfg",
		Algorithm: "SHA-256", QOP: "auth", NC: "00000001", Cnonce: "xyz", Response: "0123abcd"}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}

	ok := []struct{ in, user string }{
		// Case-insensitive scheme and names, tabs, empty list elements,
		// unknown parameters, escapes in quoted strings.
		{"digest USERNAME=\"a\",\trealm=\"r\", ,nonce=\"n\", uri=\"/\", response=\"00\", foo=bar", "a"},
		{`Digest username="a\"b\\c", realm="r", nonce="n", uri="/", response="00"`, `a"b\c`},
		{`Digest username = "a" , realm="r", nonce="n", uri="/", response="00",`, "a"},
		{`Digest username="æøå", realm="r", nonce="n", uri="/", response="00"`, "æøå"},
	}
	for _, tt := range ok {
		c, err := parseAuthorization(tt.in)
		if err != nil || c.Username != tt.user {
			t.Errorf("parse(%q) = %q, %v; want %q", tt.in, c.Username, err, tt.user)
		}
	}

	bad := []string{
		"",
		"Digest",
		`Basic dXNlcjpwYXNz`,
		`Digest username="a", realm="r", nonce="n", uri="/"`,                             // no response
		`Digest username="a", username="b", realm="r", nonce="n", uri="/", response="0"`, // duplicate
		`Digest username="a, realm="r", nonce="n", uri="/", response="0"`,                // unterminated
		`Digest username="a" realm="r", nonce="n", uri="/", response="0"`,                // missing comma
		`Digest username=, realm="r", nonce="n", uri="/", response="0"`,                  // empty token
		`Digest username="a\`, // dangling escape
		"Digest username=\"a\nb\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"0\"", // control char
		`Digest username="a", realm="r", nonce="n", uri="/", response="0", =x`,
		`Digest username="a", realm="r", nonce="n", uri="/", response="0", x`,
		`Digest, username="a", realm="r", nonce="n", uri="/", response="0"`,
		`Digest username="a", realm="r", nonce="n", uri="/", response="0"` + strings.Repeat(" ", maxAuthorization),
	}
	for _, in := range bad {
		if c, err := parseAuthorization(in); err == nil {
			t.Errorf("parse(%q) accepted: %+v", in, c)
		}
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	c := credentials{Username: `we"ird\user`, Realm: "r", Nonce: "n", URI: "/prov/x.cfg?a=b,c", Response: "ab",
		Algorithm: "MD5", Cnonce: "c n", QOP: "auth", NC: "00000001", Opaque: "o", Userhash: "false"}
	got, err := parseAuthorization(c.String())
	if err != nil || got != c {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, c)
	}
}

func TestNonce(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &digester{key: []byte("k"), ttl: time.Minute, now: func() time.Time { return now }, random: func(b []byte) {}}
	n := d.nonce("realm", "001565aabbcc")
	if len(n) != nonceLen {
		t.Fatalf("nonce length %d, want %d", len(n), nonceLen)
	}
	if s := d.checkNonce(n, "realm", "001565aabbcc"); s != nonceFresh {
		t.Errorf("own nonce: %v", s)
	}
	for _, tt := range []struct{ nonce, realm, mac string }{
		{n, "other", "001565aabbcc"},
		{n, "realm", "001565aabbcd"},
		{n[:len(n)-1] + "A", "realm", "001565aabbcc"},
		{"", "realm", "001565aabbcc"},
		{strings.Repeat("*", nonceLen), "realm", "001565aabbcc"},
	} {
		if s := d.checkNonce(tt.nonce, tt.realm, tt.mac); s != nonceBad {
			t.Errorf("checkNonce(%q, %q, %q) = %v, want bad", tt.nonce, tt.realm, tt.mac, s)
		}
	}
	other := &digester{key: []byte("other key"), ttl: time.Minute, now: d.now}
	if s := other.checkNonce(n, "realm", "001565aabbcc"); s != nonceBad {
		t.Errorf("nonce checked with another key: %v", s)
	}
	now = now.Add(time.Minute + time.Nanosecond)
	if s := d.checkNonce(n, "realm", "001565aabbcc"); s != nonceStale {
		t.Errorf("old nonce: %v, want stale", s)
	}
}

func TestSameURI(t *testing.T) {
	for _, tt := range []struct {
		digest, request string
		want            bool
	}{
		{"/prov/a.cfg", "/prov/a.cfg", true},
		{"http://pbx.example/prov/a.cfg", "/prov/a.cfg", true},
		{"/prov/b.cfg", "/prov/a.cfg", false},
		{"/prov/a.cfg?x=1", "/prov/a.cfg", false},
		{"prov/a.cfg", "/prov/a.cfg", false},
	} {
		if got := sameURI(tt.digest, tt.request); got != tt.want {
			t.Errorf("sameURI(%q, %q) = %v", tt.digest, tt.request, got)
		}
	}
}
