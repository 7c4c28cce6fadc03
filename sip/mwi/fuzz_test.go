package mwi

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/sip/auth"
)

type stubAuth struct{}

func (stubAuth) Challenge(realm string, stale bool, _ ...string) []string {
	return []string{`Digest realm="` + realm + `", nonce="x", qop="auth"`}
}

func (stubAuth) Verify(string, string, string, func(string) (auth.Credentials, bool)) auth.Result {
	return auth.Result{Reason: "stub"}
}

type stubGuard struct{}

func (stubGuard) Failed(netip.Addr) bool { return false }
func (stubGuard) Succeeded(netip.Addr)   {}

type stubSender struct{}

func (stubSender) TransactionRequest(context.Context, *sip.Request, ...sipgo.ClientRequestOption) (sip.ClientTransaction, error) {
	return nil, errors.New("stub sender sends nothing")
}

// FuzzSubscribe feeds arbitrary messages through the SUBSCRIBE decision
// (Event, Expires, Accept, To/request-URI, dialog and digest handling) and
// checks that nothing panics, that the response can be built, and that a
// request without valid credentials never creates a subscription. Seeds
// are in testdata/fuzz/FuzzSubscribe and below.
func FuzzSubscribe(f *testing.F) {
	for _, s := range []string{
		"SUBSCRIBE sip:2101@fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1\r\n" +
			"From: <sip:2101@fjordvik.test>;tag=a\r\nTo: <sip:2101@fjordvik.test>\r\nCall-ID: c1\r\nCSeq: 1 SUBSCRIBE\r\n" +
			"Contact: <sip:2101@192.0.2.10:5062>\r\nEvent: message-summary;id=1\r\nAccept: application/simple-message-summary\r\n" +
			"Expires: 3600\r\nContent-Length: 0\r\n\r\n",
		"SUBSCRIBE sip:2101@fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-2\r\n" +
			"From: <sip:2101@fjordvik.test>;tag=a\r\nTo: <sip:2101@fjordvik.test>;tag=b\r\nCall-ID: c1\r\nCSeq: 2 SUBSCRIBE\r\n" +
			"Contact: <sip:2101@192.0.2.10:5062>\r\nEvent: message-summary\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
		"SUBSCRIBE sip:2101@fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-3\r\n" +
			"From: <sip:2101@fjordvik.test>;tag=a\r\nTo: <sip:2101@fjordvik.test>\r\nCall-ID: c2\r\nCSeq: 1 SUBSCRIBE\r\n" +
			"Contact: <sip:2101@192.0.2.10:5062>\r\nEvent: message-summary\r\nAccept: text/plain, application/*;q=0.1\r\n" +
			`Authorization: Digest username="2101", realm="fjordvik.test", nonce="abc", uri="sip:2101@fjordvik.test", response="00", qop=auth, nc=00000001, cnonce="x"` +
			"\r\nContent-Length: 0\r\n\r\n",
		"SUBSCRIBE sip:2101@fjordvik.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-4\r\n" +
			"From: <sip:2101@fjordvik.test>;tag=a\r\nTo: <sip:2101@fjordvik.test>\r\nCall-ID: c3\r\nCSeq: 1 SUBSCRIBE\r\n" +
			"Event: presence\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	n, err := New(Deps{Catalog: newFakeCatalog(), Auth: auth.NewAuthenticator(auth.Options{}), Guard: stubGuard{},
		Locations: &fakeLocations{}, Counts: &fakeCounts{}, Sender: stubSender{}},
		Options{Listeners: []Listener{{Network: "udp", Addr: "127.0.0.1:5060"}, {Network: "tcp", Addr: "127.0.0.1:5060"}}})
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
		req.SetSource("192.0.2.10:5062")
		req.SetTransport("UDP")
		rep := n.decide(req)
		if rep.drop {
			t.Fatalf("dropped a request from a valid source: %s", rep.why)
		}
		if rep.code < 200 || rep.code > 699 {
			t.Fatalf("status %d", rep.code)
		}
		if rep.code < 300 || rep.then != nil {
			t.Fatalf("unauthenticated request accepted (%d):\n%s", rep.code, data)
		}
		res := sip.NewResponseFromRequest(req, rep.code, rep.reason, nil)
		for _, h := range rep.headers {
			res.AppendHeader(h)
		}
		_ = res.String()
		if n.subs.Len() != 0 {
			t.Fatal("subscription created")
		}
	})
}
