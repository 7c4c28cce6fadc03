package proxy

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/sip/routing"
)

func parseReq(t *testing.T, raw string) *sip.Request {
	t.Helper()
	m, err := sip.NewParser().ParseSIP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

const phoneInvite = `INVITE sip:022334455@fjordvik.test SIP/2.0
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-1
From: "Kari" <sip:2101@fjordvik.test>;tag=abc
To: <sip:022334455@fjordvik.test>
Call-ID: c1
CSeq: 2 INVITE
P-Asserted-Identity: <sip:+4799999999@evil.test>
P-Preferred-Identity: <sip:+4799999999@evil.test>
%s
Content-Length: 0

`

// TestPresentAs: towards a trunk the caller shows as the number plan
// decided, whatever identity the phone claimed; the From tag stays.
func TestPresentAs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    routing.Outbound
		from string   // From header value wanted (prefix)
		has  []string // header lines wanted
		not  []string // header names that must be gone
	}{
		{"public number", routing.Outbound{From: "sip:+4755550101@sip.op.test", Identity: "sip:+4755550101@sip.op.test", Display: "Kari Nordmann"},
			`"Kari Nordmann" <sip:+4755550101@sip.op.test>;tag=abc`,
			[]string{`P-Asserted-Identity: "Kari Nordmann" <sip:+4755550101@sip.op.test>`}, []string{"P-Preferred-Identity", "Privacy"}},
		{"withheld", routing.Outbound{From: "sip:+4755550101@sip.op.test", Identity: "sip:+4755550101@sip.op.test", Private: true},
			`"Anonymous" <sip:anonymous@anonymous.invalid>;tag=abc`,
			[]string{"P-Asserted-Identity: <sip:+4755550101@sip.op.test>", "Privacy: id"}, []string{"P-Preferred-Identity"}},
		{"emergency location", routing.Outbound{From: "sip:+4755550100@sip.op.test", Identity: "sip:+4755550100@sip.op.test",
			Emergency: `site="Rådhuset"`}, `<sip:+4755550100@sip.op.test>;tag=abc`,
			[]string{`X-Sentral-Location: site="Rådhuset"`}, []string{"Privacy"}},
		{"no public number: no identity asserted", routing.Outbound{}, `"Kari" <sip:2101@fjordvik.test>;tag=abc`,
			nil, []string{"P-Asserted-Identity", "P-Preferred-Identity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, strings.Replace(phoneInvite, "%s\n", "", 1))
			presentAs(req, &tc.o)
			if got := req.From().Value(); !strings.HasPrefix(got, tc.from) {
				t.Errorf("From %q, want %q", got, tc.from)
			}
			msg := req.String()
			for _, h := range tc.has {
				if !strings.Contains(msg, h) {
					t.Errorf("missing %q in\n%s", h, msg)
				}
			}
			for _, h := range tc.not {
				if req.GetHeader(h) != nil {
					t.Errorf("%s still present:\n%s", h, msg)
				}
			}
		})
	}
}

func TestWantsPrivacy(t *testing.T) {
	for hdr, want := range map[string]bool{
		"":                      false,
		"Privacy: none":         false,
		"Privacy: id":           true,
		"Privacy: user;id":      true,
		"Privacy: header":       true,
		"Privacy: critical":     false,
		"Privacy: ID, critical": true,
	} {
		req := parseReq(t, strings.Replace(phoneInvite, "%s", hdr, 1))
		if got := wantsPrivacy(req); got != want {
			t.Errorf("%q: %v, want %v", hdr, got, want)
		}
	}
}

// TestPresentName: towards an extension the caller shows by the phone
// book, replacing whatever identity came in; a withheld caller stays so.
func TestPresentName(t *testing.T) {
	req := parseReq(t, strings.Replace(phoneInvite, "%s\n", "", 1))
	presentName(req, "Kari Ødegård-Hansen", "sip:2101@fjordvik.test")
	if got := req.From().Value(); !strings.HasPrefix(got, `"Kari Ødegård-Hansen" <sip:2101@fjordvik.test>;tag=abc`) {
		t.Errorf("From %q", got)
	}
	pai := req.GetHeaders("P-Asserted-Identity")
	if len(pai) != 1 || pai[0].Value() != `"Kari Ødegård-Hansen" <sip:2101@fjordvik.test>` {
		t.Errorf("P-Asserted-Identity %v, want only ours", pai)
	}

	withheld := parseReq(t, strings.Replace(phoneInvite, "%s", "Privacy: id", 1))
	presentName(withheld, "Kari Ødegård-Hansen", "sip:2101@fjordvik.test")
	if got := withheld.From().Value(); strings.Contains(got, "Ødegård") {
		t.Errorf("withheld caller named: From %q", got)
	}
}
