package registrar

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
)

// fuzzCatalog serves tenant fjordvik.test with extension 100.
type fuzzCatalog struct{}

func (fuzzCatalog) TenantByDomain(d string) (store.Tenant, bool) {
	if d == "fjordvik.test" {
		return store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: d}, true
	}
	return store.Tenant{}, false
}

func (fuzzCatalog) Extension(tid int64, n string) (store.Extension, bool) {
	if tid == 1 && n == "100" {
		return store.Extension{TenantID: 1, Number: n, HA1MD5: "00", HA1SHA256: "00", Enabled: true}, true
	}
	return store.Extension{}, false
}

// fuzzAuth accepts "Digest ok" and calls "Digest stale" stale, so the
// fuzzer reaches the binding rules without solving digests.
type fuzzAuth struct{}

func (fuzzAuth) Challenge(realm string, stale bool, algorithms ...string) []string {
	return []string{`Digest realm="` + realm + `", nonce="n", algorithm=SHA-256, qop="auth"`,
		`Digest realm="` + realm + `", nonce="n", algorithm=MD5, qop="auth"`}
}

func (fuzzAuth) Verify(_, header, _ string, lookup func(string) (auth.Credentials, bool)) auth.Result {
	_, ok := lookup("100")
	switch {
	case strings.HasPrefix(header, "Digest ok") && ok:
		return auth.Result{OK: true, User: "100"}
	case strings.HasPrefix(header, "Digest stale"):
		return auth.Result{Stale: true}
	}
	return auth.Result{Reason: "no"}
}

type nopStore struct{}

func (nopStore) Save(context.Context, []store.Binding) error           { return nil }
func (nopStore) Delete(context.Context, int64, string, []string) error { return nil }
func (nopStore) DeleteAOR(context.Context, int64, string) error        { return nil }
func (nopStore) List(context.Context, int64) ([]store.Binding, error)  { return nil, nil }
func (nopStore) ListAOR(context.Context, int64, string) ([]store.Binding, error) {
	return nil, nil
}
func (nopStore) Purge(context.Context, time.Time) (int, error) { return 0, nil }

// recordTx is a server transaction that only records the response.
type recordTx struct {
	sip.ServerTransaction // nil: any other method would panic, which the handler must not call
	res                   *sip.Response
}

func (t *recordTx) Respond(res *sip.Response) error {
	t.res = res
	_ = res.String() // rendering must not panic either
	return nil
}

const seedRegister = "REGISTER sip:fjordvik.test SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1;rport\r\n" +
	"From: <sip:100@fjordvik.test>;tag=a\r\nTo: <sip:100@fjordvik.test>\r\n" +
	"Call-ID: fuzz-1\r\nCSeq: 2 REGISTER\r\nMax-Forwards: 70\r\n" +
	"Authorization: Digest ok\r\n"

func FuzzHandleRequest(f *testing.F) {
	for _, s := range []string{
		seedRegister + "Contact: <sip:100@127.0.0.1:5999>;expires=120;q=0.7\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: <sip:100@127.0.0.1:5999>, <sip:100@10.0.0.1>;expires=0\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: *\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: <sip:100@127.0.0.1>;+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\nPath: <sip:edge;lr>, <sip:core;lr>\r\nSupported: path, outbound\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: <sip:100@127.0.0.1>\r\nExpires: 5\r\nContent-Length: 0\r\n\r\n",
		seedRegister + "Contact: <tel:+4712345678>;q=2\r\nExpires: x\r\nContent-Length: 0\r\n\r\n",
		strings.Replace(seedRegister, "Digest ok", "Digest stale", 1) + "Content-Length: 0\r\n\r\n",
		strings.Replace(seedRegister, "Authorization: Digest ok\r\n", "", 1) + "Content-Length: 0\r\n\r\n",
		strings.Replace(seedRegister, "fjordvik.test", "other.test", -1) + "Content-Length: 0\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\n\r\n",
		"\r\n\r\n",
		"\x00\xff",
	} {
		f.Add([]byte(s))
	}
	loc := location.New(nopStore{}, zap.NewNop(), location.Options{MaxContacts: 3})
	guard := auth.NewGuard(auth.GuardOptions{MaxFailures: 1 << 30, Rate: 1e9, Burst: 1 << 30})
	r, err := New(fuzzCatalog{}, fuzzAuth{}, guard, loc, zap.NewNop(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		// As the transports do: source and transport come from the socket.
		req.SetSource("127.0.0.1:5999")
		req.SetTransport("UDP")
		if len(data)%2 == 1 {
			req.SetTransport("TCP")
		}
		tx := &recordTx{}
		r.ServeSIP(req, tx)
		if tx.res != nil && (tx.res.StatusCode < 200 || tx.res.StatusCode > 699) {
			t.Fatalf("status %d", tx.res.StatusCode)
		}
		loc.RemoveAll(1, "100") // keep runs independent
	})
}
