package phones

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestVendorOf(t *testing.T) {
	for _, tt := range []struct {
		model string
		want  Vendor
	}{
		{"Yealink T54W", VendorYealink},
		{"yealink-t54w", VendorYealink},
		{"SIP-T46S", VendorYealink},
		{"T58A", VendorYealink},
		{"t33g", VendorYealink},
		{"CP925", VendorYealink},
		{"snom D785", VendorSnom},
		{"snomD735", VendorSnom},
		{"Snom 720", VendorSnom},
		{"D862", VendorSnom},
		{"d7", VendorGeneric},
		{"T5", VendorGeneric},
		{"Grandstream GXP2170", VendorGeneric},
		{"Polycom VVX 450", VendorGeneric},
		{"", VendorGeneric},
		{"sipt", VendorGeneric},
	} {
		if got := VendorOf(tt.model); got != tt.want {
			t.Errorf("VendorOf(%q) = %s, want %s", tt.model, got, tt.want)
		}
	}
}

func TestOneLineAndXMLText(t *testing.T) {
	for _, tt := range []struct{ in, line, xml string }{
		{"Kari Nordmann", "Kari Nordmann", "Kari Nordmann"},
		{"a\nb\rc\td\x00e\x7ff\u0085g\u2028h\u2029i", "a b c d e f g h i", "a b c d e f g h i"},
		{"  x  \n", "x", "x"},
		{"Ås & Ø <a> \"q\" 'p'", "Ås & Ø <a> \"q\" 'p'", "Ås &amp; Ø &lt;a&gt; &#34;q&#34; &#39;p&#39;"},
		{"bad\xffutf8", "bad utf8", "bad utf8"},
	} {
		if got := oneLine(tt.in); got != tt.line {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := xmlText(tt.in); got != tt.xml {
			t.Errorf("xmlText(%q) = %q, want %q", tt.in, got, tt.xml)
		}
	}
}

func newTestHandler(t *testing.T, o Options) *Handler {
	t.Helper()
	h, err := NewHandler(&fakeSource{}, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// hostile is a device whose every free-text field tries to break out of
// its setting.
var hostile = Device{
	MAC: "000413aabbcc", Model: "snom D785\naccount.1.password = x -->", AuthUser: "ph000413aabbcc", Secret: "Sn9kLm4PqR7tUvWx2yZa",
	Tenant: "fjord vik/..", Domain: "fjordvik.test",
	Lines: []Line{
		{Key: 1, Number: "2201", DisplayName: "</user_realname><user_pass idx=\"1\">x</user_pass>", Enabled: true},
		{Key: 3, Number: "2203", DisplayName: "Off\nuser_active: on", Enabled: false},
	},
}

func TestSnomIsWellFormedXML(t *testing.T) {
	h := newTestHandler(t, Options{PhonebookURL: "https://pb.example/{tenant}/{mac}.xml?a=1&b=2"})
	out, err := h.render(hostile, VendorSnom)
	if err != nil {
		t.Fatal(err)
	}
	// The text of every element, keyed by name#idx.
	dec := xml.NewDecoder(bytes.NewReader(out))
	got := map[string]string{}
	var stack []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, out)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			key := v.Name.Local
			for _, a := range v.Attr {
				if a.Name.Local == "idx" {
					key += "#" + a.Value
				}
			}
			stack = append(stack, key)
		case xml.CharData:
			if len(stack) > 0 {
				got[stack[len(stack)-1]] += string(v)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	want := map[string]string{
		"user_realname#1": `</user_realname><user_pass idx="1">x</user_pass>`,
		"user_pass#1":     "Sn9kLm4PqR7tUvWx2yZa",
		"user_active#1":   "on",
		"user_active#2":   "off",
		"user_active#3":   "off",
		"user_realname#3": "Off user_active: on",
		"user_outbound#1": "fjordvik.test:5060;transport=udp",
		"timezone":        "NOR+1",
		// The phone's credentials in the URL: Snom answers the phone
		// book's challenge only with those.
		"dkey_directory":  "url https://ph000413aabbcc:Sn9kLm4PqR7tUvWx2yZa@pb.example/fjord%20vik%2F../000413aabbcc.xml?a=1&b=2",
		"user_active#12":  "off",
		"user_pname#3":    "ph000413aabbcc",
		"user_host#3":     "fjordvik.test",
		"user_name#3":     "2203",
		"user_outbound#3": "fjordvik.test:5060;transport=udp",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if strings.Count(string(out), "<user_pass ") != 2 {
		t.Errorf("a display name smuggled in a setting:\n%s", out)
	}
}

func TestYealinkOneSettingPerLine(t *testing.T) {
	h := newTestHandler(t, Options{Transport: "tls", SIPServer: "2001:db8::5"})
	d := hostile
	d.Model = "Yealink T54W\naccount.1.password = stolen"
	out, err := h.render(d, VendorYealink)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"account.3.display_name = Off user_active: on\n",
		"account.3.enable = 0\n",
		"account.1.sip_server.1.port = 5061\n",
		"account.1.sip_server.1.transport_type = 2\n",
		"account.1.outbound_proxy.1.address = 2001:db8::5\n",
		"account.2.enable = 0\n",
		"account.16.enable = 0\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "remote_phonebook") {
		t.Error("phone book settings without a phone book URL")
	}
	// Every line is a comment, blank, the version header or key = value,
	// and no key is set twice.
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, " = ")
		if !ok || strings.ContainsAny(k, " \t") {
			t.Errorf("line %d is not key = value: %q", i+1, line)
		}
		if seen[k] {
			t.Errorf("%s set twice", k)
		}
		seen[k] = true
	}
	if !strings.HasPrefix(s, "#!version:1.0.0.1\n") {
		t.Error("the version header must be the first line")
	}
	if strings.Contains(s, "stolen") && !strings.Contains(s, "(Yealink T54W account.1.password = stolen)") {
		t.Errorf("model not confined to its comment:\n%s", s)
	}
}

func TestSnomOutboundIPv6(t *testing.T) {
	h := newTestHandler(t, Options{Transport: "tcp", SIPServer: "2001:db8::5", SIPPort: 5080})
	out, err := h.render(hostile, VendorSnom)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), ">[2001:db8::5]:5080;transport=tcp</user_outbound>") {
		t.Errorf("IPv6 outbound proxy not bracketed:\n%s", out)
	}
}
