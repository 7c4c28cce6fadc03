package presence

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   MessageSummary
		want string
	}{
		{"waiting", MessageSummary{Waiting: true, Account: "sip:2101@fjordvik.test", Voice: Counts{2, 8, 0, 2}},
			"Messages-Waiting: yes\r\nMessage-Account: sip:2101@fjordvik.test\r\nVoice-Message: 2/8 (0/2)\r\n"},
		{"none waiting", MessageSummary{Account: "sip:2101@fjordvik.test", Voice: Counts{0, 3, 0, 0}},
			"Messages-Waiting: no\r\nMessage-Account: sip:2101@fjordvik.test\r\nVoice-Message: 0/3 (0/0)\r\n"},
		{"no account", MessageSummary{Waiting: true, Voice: Counts{New: 1}},
			"Messages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\n"},
		{"other classes", MessageSummary{Waiting: true, Voice: Counts{1, 0, 0, 0}, Other: []ClassCounts{{"Fax-Message", Counts{2, 1, 0, 0}}}},
			"Messages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\nFax-Message: 2/1 (0/0)\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.in.Marshal()); got != tt.want {
				t.Errorf("Marshal:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewSummary(t *testing.T) {
	if s := NewSummary("sip:2101@fjordvik.test", Counts{Old: 4}); s.Waiting {
		t.Errorf("old messages only: Waiting = true")
	}
	if s := NewSummary("sip:2101@fjordvik.test", Counts{New: 1, Old: 4}); !s.Waiting {
		t.Errorf("one new message: Waiting = false")
	}
	if s := NewSummary("", Counts{NewUrgent: 1}); !s.Waiting {
		t.Errorf("one new urgent message: Waiting = false")
	}
}

func TestParseMessageSummary(t *testing.T) {
	tests := []struct {
		name string
		body string
		want MessageSummary
	}{
		{
			// RFC 3842 §5.2, the first example.
			name: "rfc3842 basic",
			body: "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n",
			want: MessageSummary{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Counts{4, 8, 1, 2}},
		},
		{
			// RFC 3842 §5.2, with the optional message headers after a blank line.
			name: "rfc3842 with message headers",
			body: "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n\r\n" +
				"To: <alice@atlanta.example.com>\r\nFrom: <bob@biloxi.example.com>\r\nSubject: carpool tomorrow?\r\n" +
				"Priority: normal\r\nMessage-ID: 13@vmail.example.com\r\n\r\nTo: <alice@atlanta.example.com>\r\n" +
				"From: <voice-mail@vmail.example.com>\r\nSubject: Not joking\r\n",
			want: MessageSummary{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Counts{4, 8, 1, 2}},
		},
		{
			// RFC 3842 §6: the example NOTIFY body, no urgent counts.
			name: "rfc3842 no urgent",
			body: "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8\r\n",
			want: MessageSummary{Waiting: true, Account: "sip:alice@vmail.example.com", Voice: Counts{New: 2, Old: 8}},
		},
		{
			name: "status only",
			body: "Messages-Waiting: no\r\n",
			want: MessageSummary{},
		},
		{
			name: "no trailing newline",
			body: "Messages-Waiting: yes\r\nVoice-Message: 1/0",
			want: MessageSummary{Waiting: true, Voice: Counts{New: 1}},
		},
		{
			name: "bare LF, lower case, odd spacing",
			body: "messages-waiting:YES\nmessage-account :  sip:2101@fjordvik.test \nvoice-message: 3 / 1 ( 1 / 0 )\n",
			want: MessageSummary{Waiting: true, Account: "sip:2101@fjordvik.test", Voice: Counts{3, 1, 1, 0}},
		},
		{
			name: "upper case names, tabs, no space in parens",
			body: "MESSAGES-WAITING:\tno\r\nVOICE-MESSAGE:\t0/12(0/3)\r\n",
			want: MessageSummary{Voice: Counts{Old: 12, OldUrgent: 3}},
		},
		{
			name: "leading blank line",
			body: "\r\nMessages-Waiting: yes\r\nVoice-Message: 1/0 (0/0)\r\n",
			want: MessageSummary{Waiting: true, Voice: Counts{New: 1}},
		},
		{
			name: "folded line",
			body: "Messages-Waiting: yes\r\nVoice-Message: 5/2\r\n (1/1)\r\n",
			want: MessageSummary{Waiting: true, Voice: Counts{5, 2, 1, 1}},
		},
		{
			name: "other classes kept in order",
			body: "Messages-Waiting: yes\r\nMessage-Account: sip:2101@fjordvik.test\r\nfax-message: 1/2\r\nVoice-Message: 0/0 (0/0)\r\nText-Message: 3/0 (1/0)\r\n",
			want: MessageSummary{Waiting: true, Account: "sip:2101@fjordvik.test",
				Other: []ClassCounts{{"Fax-Message", Counts{New: 1, Old: 2}}, {"Text-Message", Counts{3, 0, 1, 0}}}},
		},
		{
			name: "extension class with counts kept, unknown header ignored",
			body: "Messages-Waiting: yes\r\nX-Video-Message: 1/1\r\nX-Server: vm1 build 7\r\nVoice-Message: 1/0\r\n",
			want: MessageSummary{Waiting: true, Voice: Counts{New: 1}, Other: []ClassCounts{{"X-Video-Message", Counts{New: 1, Old: 1}}}},
		},
		{
			name: "account in angle brackets, tel URI",
			body: "Messages-Waiting: yes\r\nMessage-Account: <tel:+4722334455>\r\n",
			want: MessageSummary{Waiting: true, Account: "tel:+4722334455"},
		},
		{
			name: "status not first",
			body: "Voice-Message: 1/0\r\nMessages-Waiting: yes\r\n",
			want: MessageSummary{Waiting: true, Voice: Counts{New: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessageSummary([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseMessageSummary: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			// Round trip: what we parsed re-marshals to the same value.
			again, err := ParseMessageSummary(got.Marshal())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", got.Marshal(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip: got %+v, want %+v", again, got)
			}
		})
	}
}

func TestParseMessageSummaryRefuses(t *testing.T) {
	tests := []struct {
		name, body, errHas string
	}{
		{"empty", "", "empty body"},
		{"blank lines", "\r\n\r\n", "empty body"},
		{"no status", "Message-Account: sip:a@b\r\nVoice-Message: 1/0\r\n", "no Messages-Waiting"},
		{"bad status", "Messages-Waiting: maybe\r\n", "want yes or no"},
		{"status with params", "Messages-Waiting: yes;x=1\r\n", "want yes or no"},
		{"repeated status", "Messages-Waiting: yes\r\nMessages-Waiting: no\r\n", "repeated Messages-Waiting"},
		{"not a header", "Messages-Waiting: yes\r\nhello world\r\n", "not a header"},
		{"html", "<html><body>502 Bad Gateway</body></html>", "not a header"},
		{"json", `{"waiting": true}`, "not a header"},
		{"negative count", "Messages-Waiting: yes\r\nVoice-Message: -1/0\r\n", "Voice-Message"},
		{"missing old", "Messages-Waiting: yes\r\nVoice-Message: 3\r\n", "want new/old"},
		{"half urgent", "Messages-Waiting: yes\r\nVoice-Message: 3/1 (1)\r\n", "want new/old"},
		{"unclosed paren", "Messages-Waiting: yes\r\nVoice-Message: 3/1 (1/0\r\n", "want new/old"},
		{"trailing junk", "Messages-Waiting: yes\r\nVoice-Message: 3/1 (1/0) x\r\n", "want new/old"},
		{"huge count", "Messages-Waiting: yes\r\nVoice-Message: 99999999999/0\r\n", "too large"},
		{"bad fax counts", "Messages-Waiting: yes\r\nFax-Message: lots\r\n", "Fax-Message"},
		{"repeated voice", "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\nvoice-message: 2/0\r\n", "repeated"},
		{"account no scheme", "Messages-Waiting: yes\r\nMessage-Account: 2101@fjordvik.test\r\n", "not a URI"},
		{"account with space", "Messages-Waiting: yes\r\nMessage-Account: sip:a b@c\r\n", "not a URI"},
		{"empty account", "Messages-Waiting: yes\r\nMessage-Account:\r\n", "empty Message-Account"},
		{"control char", "Messages-Waiting: yes\x00\r\n", "control character"},
		{"stray CR", "Messages-Waiting: yes\rVoice-Message: 1/0\r\n", "control character"},
		{"leading continuation", " Messages-Waiting: yes\r\n", "continuation"},
		{"too big", "Messages-Waiting: yes\r\n" + strings.Repeat("X: y\r\n", 20000), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMessageSummary([]byte(tt.body))
			if err == nil {
				t.Fatalf("accepted %q", tt.body)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %q does not mention %q", err, tt.errHas)
			}
		})
	}
	if _, err := ParseMessageSummary(nil); !errors.Is(err, ErrEmptySummary) {
		t.Errorf("nil body: %v, want ErrEmptySummary", err)
	}
}
