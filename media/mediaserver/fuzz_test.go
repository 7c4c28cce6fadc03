package mediaserver

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzRequest runs what the server reads from a request it did not write:
// request-URI parameters, caller identity, the SDP offer and INFO bodies.
// None of it may panic, and what it returns must stay within bounds.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"INVITE sip:deposit@127.0.0.1:5070;tenant=1;mailbox=2001;greeting=busy;lang=nb SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: \"Kari\" <sip:2001@pbx>;tag=1\r\n" +
			"To: <sip:deposit@127.0.0.1>\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContact: <sip:2001@127.0.0.1>\r\n" +
			"P-Asserted-Identity: \"Kari, N\" <sip:+4722%2033@pbx>, <tel:+47-22-33;phone-context=x>\r\n" +
			"Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n",
		"INFO sip:media@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=x\r\n" +
			"To: <sip:c@d>;tag=y\r\nCall-ID: b\r\nCSeq: 2 INFO\r\nContent-Type: application/dtmf-relay\r\n" +
			"Content-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n",
		"INVITE sip:%41nnounce@h;PROMPT=vm-goodbye%2Cvm-invalid;lang SIP/2.0\r\nFrom: Anonymous <sip:anonymous@anonymous.invalid>;tag=1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		params := uriParams(req.Recipient)
		if len(params) > maxParams {
			t.Fatalf("%d params kept", len(params))
		}
		for k := range params {
			if k != strings.ToLower(k) {
				t.Fatalf("param name %q not lower case", k)
			}
		}
		number, display := callerOf(req)
		if len(number) > 64 || len(display) > 128 || strings.ContainsAny(display, "\r\n\x00") {
			t.Fatalf("caller %q %q", number, display)
		}
		if _, code, _ := readOffer(req); code != 0 && code != 400 && code != 415 && code != 488 {
			t.Fatalf("offer refused with %d", code)
		}
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = h.Value()
		}
		code, digit, _ := infoDigit(ct, req.Body())
		switch {
		case code == 200 && digit != 0 && !strings.ContainsRune("0123456789*#ABCD", digit):
			t.Fatalf("INFO digit %q", digit)
		case code != 200 && digit != 0:
			t.Fatalf("INFO refused with %d but digit %q", code, digit)
		case code != 200 && code != 400 && code != 415:
			t.Fatalf("INFO code %d", code)
		}
	})
}
