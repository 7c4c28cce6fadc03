package mediaserver

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func parseReq(t *testing.T, s string) *sip.Request {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Request)
}

func TestCallerAndParams(t *testing.T) {
	for _, tc := range []struct {
		name, headers, number, display string
	}{
		{"from only", `From: "Kari N" <sip:2001@pbx>;tag=1`, "2001", "Kari N"},
		{"PAI wins", "From: \"Desk\" <sip:2001@pbx>;tag=1\r\nP-Asserted-Identity: \"Kari\" <sip:+4722334455@pbx>",
			"+4722334455", "Kari"},
		{"PAI tel", "From: <sip:x@pbx>;tag=1\r\nP-Asserted-Identity: <tel:+47-22-33-44-55;cpc=x>", "+4722334455", ""},
		{"PAI name from From", "From: \"Kari\" <sip:2001@pbx>;tag=1\r\nP-Asserted-Identity: <sip:2001@pbx>", "2001", "Kari"},
		{"PAI comma in name", "From: <sip:x@pbx>;tag=1\r\nP-Asserted-Identity: \"Nordmann, Kari\" <sip:2001@pbx>, <tel:2001>",
			"2001", "Nordmann, Kari"},
		{"anonymous", `From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=1`, "", ""},
		{"escaped user", `From: <sip:%2B4722@pbx>;tag=1`, "+4722", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, "INVITE sip:deposit@h;Tenant=3;mailbox=20%301;x;TENANT=9 SIP/2.0\r\n"+
				"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"+tc.headers+"\r\nTo: <sip:d@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n")
			n, d := callerOf(req)
			if n != tc.number || d != tc.display {
				t.Errorf("caller %q %q, want %q %q", n, d, tc.number, tc.display)
			}
			p := uriParams(req.Recipient)
			if p["tenant"] != "3" || p["mailbox"] != "2001" || p["x"] != "" || len(p) != 3 {
				t.Errorf("params %v", p)
			}
		})
	}
}

func TestInfoDigit(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		code     int
		digit    rune
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", 200, '5'},
		{"application/dtmf-relay", "Signal=11\r\n", 200, '#'},
		{"application/dtmf", "*", 200, '*'},
		{"", "", 200, 0},
		{"application/dtmf-relay", "Signal=X\r\n", 400, 0},
		{"text/plain", "5", 415, 0},
	} {
		code, digit, _ := infoDigit(tc.ct, []byte(tc.body))
		if code != tc.code || digit != tc.digit {
			t.Errorf("infoDigit(%q, %q) = %d %q, want %d %q", tc.ct, tc.body, code, digit, tc.code, tc.digit)
		}
	}
}
