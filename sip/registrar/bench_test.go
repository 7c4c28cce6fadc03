package registrar_test

import (
	"fmt"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/sip/registrar"
)

// BenchmarkRespond measures one registration as the stateless UDP path
// sees it, parsing included: REGISTER -> 401, REGISTER with credentials
// -> 200, for 1,000 extensions in turn (each refresh a new Call-ID, as
// bench/register.sh's sipp sends them). Network and store writes are not
// included (the location service's store is a no-op).
func BenchmarkRespond(b *testing.B) {
	users := map[string]string{}
	for i := range 1000 {
		users[fmt.Sprint(10000+i)] = "Bench-password-1"
	}
	cat := newCatalog(realm, users).indexed()
	loc := location.New(nopBindings{}, zap.NewNop(), location.Options{})
	reg, err := registrar.New(cat, auth.NewAuthenticator(auth.Options{}), auth.NewGuard(auth.GuardOptions{}), loc, zap.NewNop(),
		registrar.Options{Algorithms: []string{auth.MD5}})
	if err != nil {
		b.Fatal(err)
	}
	parser := sip.NewParser()
	msg := func(user string, n, cseq int, authz string) []byte {
		s := "REGISTER sip:" + realm + " SIP/2.0\r\n" +
			fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-%d-%d;rport\r\n", n, cseq) +
			"From: <sip:" + user + "@" + realm + ">;tag=" + fmt.Sprint(n) + "\r\n" +
			"To: <sip:" + user + "@" + realm + ">\r\n" +
			fmt.Sprintf("Call-ID: %d-bench@127.0.0.1\r\nCSeq: %d REGISTER\r\n", n, cseq) +
			"Contact: <sip:" + user + "@127.0.0.1:5061;transport=UDP>\r\n" +
			"Max-Forwards: 70\r\nExpires: 3600\r\nUser-Agent: bench\r\n"
		if authz != "" {
			s += "Authorization: " + authz + "\r\n"
		}
		return []byte(s + "Content-Length: 0\r\n\r\n")
	}
	parse := func(data []byte) *sip.Request {
		m, err := parser.ParseSIP(data)
		if err != nil {
			b.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetTransport("UDP")
		req.SetSource("127.0.0.1:5061")
		return req
	}
	// The client side (digest responses) is computed before the timer
	// starts: one nonce per extension, answered with increasing nonce
	// counts, each REGISTER a new CSeq of the extension's Call-ID.
	const nUsers = 1000
	first := make([][]byte, b.N)
	second := make([][]byte, b.N)
	chals := make([]*digest.Challenge, nUsers)
	for i := range b.N {
		u := i % nUsers
		user := fmt.Sprint(10000 + u)
		first[i] = msg(user, u, 2*i+1, "")
		if chals[u] == nil {
			res := reg.Respond(parse(first[i]))
			c, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
			if err != nil {
				b.Fatal(err)
			}
			chals[u] = c
		}
		cred, err := digest.Digest(chals[u], digest.Options{Method: "REGISTER", URI: "sip:" + realm, Username: user,
			Password: "Bench-password-1", Count: i/nUsers + 1})
		if err != nil {
			b.Fatal(err)
		}
		second[i] = msg(user, u, 2*i+2, cred.String())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if res := reg.Respond(parse(first[i])); res.StatusCode != 401 {
			b.Fatalf("first: %d", res.StatusCode)
		}
		if res := reg.Respond(parse(second[i])); res.StatusCode != 200 {
			b.Fatalf("second: %d %s", res.StatusCode, res.Reason)
		}
	}
}
