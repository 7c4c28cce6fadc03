package presence

import (
	"reflect"
	"testing"
)

// FuzzParseMessageSummary checks that no body panics the parser and that
// whatever it accepts re-marshals to a body that parses to the same value.
// Seeds are in testdata/fuzz/FuzzParseMessageSummary and below.
func FuzzParseMessageSummary(f *testing.F) {
	for _, s := range []string{
		"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n",
		"Messages-Waiting: no\r\n",
		"messages-waiting: YES\nvoice-message: 1 / 0 ( 0 / 0 )\n\nSubject: hi\n",
		"Messages-Waiting: yes\r\nFax-Message: 1/2\r\nX-Foo: 3/4 (0/1)\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessageSummary(body)
		if err != nil {
			return
		}
		out := m.Marshal()
		again, err := ParseMessageSummary(out)
		if err != nil {
			t.Fatalf("accepted %q but refused its re-marshal %q: %v", body, out, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip of %q via %q: got %+v, want %+v", body, out, again, m)
		}
	})
}
