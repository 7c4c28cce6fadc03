package presence

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ContentType is the media type of a message-summary body (RFC 3842 §3.2).
const ContentType = "application/simple-message-summary"

// EventMessageSummary is the event package name for MWI (RFC 3842 §3).
const EventMessageSummary = "message-summary"

// maxBody bounds what ParseMessageSummary reads; real bodies are a few
// hundred bytes, and the limit keeps a hostile NOTIFY from costing much.
const maxBody = 64 << 10

// Counts are the new and old message counts of one message class, with
// the urgent subset of each (RFC 3842 §5.2).
type Counts struct {
	New, Old, NewUrgent, OldUrgent int
}

// ClassCounts are the counts of a message class other than voice, kept so
// a parsed summary re-marshals without losing them.
type ClassCounts struct {
	Class string // e.g. "Fax-Message"; known classes in canonical case, others as sent
	Counts
}

// MessageSummary is the state carried by an application/simple-message-summary
// body: whether messages wait, for which account, and how many.
type MessageSummary struct {
	Waiting bool
	Account string // Message-Account URI, e.g. "sip:2101@fjordvik.test"; empty to omit
	Voice   Counts
	// Other holds fax, pager, multimedia, text and extension classes in the
	// order received. The PBX only produces voice; this is for fidelity.
	Other []ClassCounts
}

// NewSummary returns the summary for a voice mailbox: messages wait exactly
// when there is at least one new message, which is what lights the lamp.
func NewSummary(account string, voice Counts) MessageSummary {
	return MessageSummary{Waiting: voice.New > 0 || voice.NewUrgent > 0, Account: account, Voice: voice}
}

// Marshal renders the body as phones expect it, with CRLF line endings:
//
//	Messages-Waiting: yes
//	Message-Account: sip:2101@fjordvik.test
//	Voice-Message: 2/8 (0/2)
//
// The urgent counts are always written: every phone we know parses them,
// and some older ones (Cisco SPA, early Yealink) mis-parse the short form.
// Account is written as given; callers build it from a URI.
func (m MessageSummary) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("Messages-Waiting: ")
	if m.Waiting {
		b.WriteString("yes\r\n")
	} else {
		b.WriteString("no\r\n")
	}
	if m.Account != "" {
		b.WriteString("Message-Account: ")
		b.WriteString(m.Account)
		b.WriteString("\r\n")
	}
	writeCounts(&b, "Voice-Message", m.Voice)
	for _, o := range m.Other {
		writeCounts(&b, o.Class, o.Counts)
	}
	return b.Bytes()
}

func writeCounts(b *bytes.Buffer, class string, c Counts) {
	fmt.Fprintf(b, "%s: %d/%d (%d/%d)\r\n", class, c.New, c.Old, c.NewUrgent, c.OldUrgent)
}

// knownClasses maps the lower-case message-context-class names of RFC 3842
// §5.2 (and RFC 3458) to the case Marshal writes them in.
var knownClasses = map[string]string{
	"voice-message":      "Voice-Message",
	"fax-message":        "Fax-Message",
	"pager-message":      "Pager-Message",
	"multimedia-message": "Multimedia-Message",
	"text-message":       "Text-Message",
	"none":               "None",
}

// ErrEmptySummary reports a body with no message-summary in it; some
// servers send one on an initial NOTIFY before they know the state.
var ErrEmptySummary = errors.New("message-summary: empty body")

// ParseMessageSummary parses an application/simple-message-summary body.
// It takes what real phones and servers send: header names in any case,
// CRLF or bare LF, folded lines, optional Message-Account and urgent
// counts, whitespace around "/" and "()", message classes other than voice
// (kept in Other), unknown header lines (ignored), and the optional block
// of message headers after a blank line (RFC 3842 §5.2, ignored). It
// refuses bodies without a Messages-Waiting line, lines that are not
// headers, malformed counts and repeated lines.
func ParseMessageSummary(body []byte) (MessageSummary, error) {
	var m MessageSummary
	if len(body) > maxBody {
		return m, fmt.Errorf("message-summary: body of %d bytes exceeds %d", len(body), maxBody)
	}
	lines, err := summaryLines(body)
	if err != nil {
		return m, err
	}
	if len(lines) == 0 {
		return m, ErrEmptySummary
	}
	var haveStatus, haveAccount bool
	seen := map[string]bool{}
	for _, ln := range lines {
		name, value, ok := strings.Cut(ln.text, ":")
		name = strings.TrimRight(name, " \t")
		if !ok || !isToken(name) {
			return m, fmt.Errorf("message-summary: line %d: not a header: %q", ln.no, clip(ln.text))
		}
		value = strings.Trim(value, " \t")
		lname := strings.ToLower(name)
		switch lname {
		case "messages-waiting":
			if haveStatus {
				return m, fmt.Errorf("message-summary: line %d: repeated Messages-Waiting", ln.no)
			}
			haveStatus = true
			switch strings.ToLower(value) {
			case "yes":
				m.Waiting = true
			case "no":
				m.Waiting = false
			default:
				return m, fmt.Errorf("message-summary: line %d: Messages-Waiting %q: want yes or no", ln.no, clip(value))
			}
		case "message-account":
			if haveAccount {
				return m, fmt.Errorf("message-summary: line %d: repeated Message-Account", ln.no)
			}
			haveAccount = true
			acc, err := parseAccount(value)
			if err != nil {
				return m, fmt.Errorf("message-summary: line %d: %w", ln.no, err)
			}
			m.Account = acc
		default:
			c, err := parseCounts(value)
			if err != nil {
				if _, known := knownClasses[lname]; known {
					return m, fmt.Errorf("message-summary: line %d: %s: %w", ln.no, name, err)
				}
				// An extension header we do not know: RFC 3842 lets the
				// body grow, so skip it rather than fail the NOTIFY.
				continue
			}
			if seen[lname] {
				return m, fmt.Errorf("message-summary: line %d: repeated %s", ln.no, name)
			}
			seen[lname] = true
			if lname == "voice-message" {
				m.Voice = c
				continue
			}
			class := name
			if canon, ok := knownClasses[lname]; ok {
				class = canon
			}
			m.Other = append(m.Other, ClassCounts{Class: class, Counts: c})
		}
	}
	if !haveStatus {
		return m, errors.New("message-summary: no Messages-Waiting line")
	}
	return m, nil
}

type line struct {
	no   int
	text string
}

// summaryLines splits the summary part of a body into logical lines:
// leading blank lines are skipped, folded lines joined, and everything
// from the first blank line on (the optional message headers) dropped.
func summaryLines(body []byte) ([]line, error) {
	var out []line
	for i, raw := range strings.Split(string(body), "\n") {
		raw = strings.TrimSuffix(raw, "\r")
		if strings.TrimRight(raw, " \t") == "" {
			if len(out) == 0 {
				continue
			}
			break
		}
		for _, r := range raw {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return nil, fmt.Errorf("message-summary: line %d: control character %q", i+1, r)
			}
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("message-summary: line %d: continuation without a header", i+1)
			}
			out[len(out)-1].text += " " + strings.Trim(raw, " \t")
			continue
		}
		out = append(out, line{no: i + 1, text: raw})
	}
	return out, nil
}

// parseAccount checks a Message-Account value: one URI with a scheme and
// no whitespace. Angle brackets, which a few servers add, are dropped.
func parseAccount(v string) (string, error) {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		v = strings.Trim(v[1:len(v)-1], " \t")
	}
	if v == "" {
		return "", errors.New("empty Message-Account")
	}
	if strings.ContainsAny(v, " \t<>\"") {
		return "", fmt.Errorf("Message-Account %q: not a URI", clip(v))
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok || rest == "" || !isScheme(scheme) {
		return "", fmt.Errorf("Message-Account %q: not a URI", clip(v))
	}
	return v, nil
}

// parseCounts parses "new/old" with an optional "(new_urgent/old_urgent)",
// allowing whitespace around the separators as RFC 3261 SLASH and LPAREN
// do.
func parseCounts(v string) (Counts, error) {
	var c Counts
	s := v
	num := func() (int, error) {
		s = strings.TrimLeft(s, " \t")
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 0 {
			return 0, fmt.Errorf("%q: want new/old (urgent_new/urgent_old)", clip(v))
		}
		if n > 9 {
			// Nine digits fit any int, and no mailbox holds a billion
			// messages: more is junk, not data.
			return 0, fmt.Errorf("%q: count too large", clip(v))
		}
		x, _ := strconv.Atoi(s[:n])
		s = s[n:]
		return x, nil
	}
	sep := func(b byte) bool {
		s = strings.TrimLeft(s, " \t")
		if s == "" || s[0] != b {
			return false
		}
		s = s[1:]
		return true
	}
	bad := fmt.Errorf("%q: want new/old (urgent_new/urgent_old)", clip(v))
	var err error
	if c.New, err = num(); err != nil {
		return c, err
	}
	if !sep('/') {
		return c, bad
	}
	if c.Old, err = num(); err != nil {
		return c, err
	}
	if sep('(') {
		if c.NewUrgent, err = num(); err != nil {
			return c, err
		}
		if !sep('/') {
			return c, bad
		}
		if c.OldUrgent, err = num(); err != nil {
			return c, err
		}
		if !sep(')') {
			return c, bad
		}
	}
	if strings.Trim(s, " \t") != "" {
		return c, bad
	}
	return c, nil
}

// isToken reports whether s is an RFC 3261 token, what a header name is.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isScheme reports whether s is a URI scheme (RFC 3986 §3.1).
func isScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// clip shortens what an error quotes: a hostile body should not make the
// log line huge.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
