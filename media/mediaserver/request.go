package mediaserver

import (
	"bytes"
	"errors"
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/sentralpbx/sentral/media/dtmf"
)

// maxParams bounds the request-URI parameters kept per call; the proxy
// sets a handful, and a hostile URI cannot make a call hold thousands.
const maxParams = 32

// unescape decodes RFC 3261 %-escapes of a URI part; a malformed escape
// leaves the text as it is rather than failing the call over it.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// uriParams returns a request-URI's parameters by lower-case name (RFC
// 3261 §19.1.4 compares names case-insensitively); of names that differ
// only in case, the first wins.
func uriParams(u sip.Uri) map[string]string {
	out := make(map[string]string, min(len(u.UriParams), maxParams))
	for _, kv := range u.UriParams {
		if len(out) >= maxParams {
			break
		}
		k := strings.ToLower(unescape(kv.K))
		if _, dup := out[k]; dup || k == "" {
			continue
		}
		out[k] = unescape(kv.V)
	}
	return out
}

// callerOf returns the caller's number and display name: the proxy's
// P-Asserted-Identity when present (it is what the proxy vouches for),
// else From.
func callerOf(req *sip.Request) (number, display string) {
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		if n, d, ok := parseIdentity(h.Value()); ok {
			if d == "" {
				if f := req.From(); f != nil && uriNumber(&f.Address) == n {
					d = f.DisplayName
				}
			}
			return n, cleanDisplay(d)
		}
	}
	if f := req.From(); f != nil {
		return uriNumber(&f.Address), cleanDisplay(f.DisplayName)
	}
	return "", ""
}

// parseIdentity reads the first usable name-addr of a P-Asserted-Identity
// value (RFC 3325 allows a sip: and a tel: one, comma-separated).
func parseIdentity(v string) (number, display string, ok bool) {
	for _, part := range splitTop(v) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var u sip.Uri
		var params sip.HeaderParams
		d, err := sip.ParseAddressValue(part, &u, &params)
		if err != nil {
			continue
		}
		return uriNumber(&u), strings.TrimSpace(d), true
	}
	return "", "", false
}

// splitTop splits at commas outside quotes and angle brackets.
func splitTop(v string) []string {
	var parts []string
	quoted, angle, start := false, 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle++
		case c == '>' && !quoted && angle > 0:
			angle--
		case c == ',' && !quoted && angle == 0:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

// uriNumber is the number a URI names: a sip: user part or a tel: number,
// without visual separators; "" for anonymous.
func uriNumber(u *sip.Uri) string {
	var n string
	switch strings.ToLower(u.Scheme) {
	case "sip", "sips":
		n = unescape(u.User)
	case "tel":
		n, _, _ = strings.Cut(u.Raw(), ";")
	default:
		return ""
	}
	n = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '(' || r == ')' || r == ' ' {
			return -1
		}
		return r
	}, n)
	if strings.EqualFold(n, "anonymous") || len(n) > 64 {
		return ""
	}
	return n
}

// cleanDisplay drops quotes and control characters and bounds the length:
// the name ends up in the store and in logs.
func cleanDisplay(d string) string {
	d = strings.TrimSpace(strings.Trim(strings.TrimSpace(d), `"`))
	d = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, d)
	if len(d) > 128 {
		d = d[:128]
	}
	if strings.EqualFold(d, "anonymous") {
		return ""
	}
	return d
}

// infoDigit decides the response to an INFO and the key it carries (0 for
// none): an empty INFO is a keep-alive (RFC 6086 §4.2.2 lets it be
// answered 200), other bodies must be DTMF.
func infoDigit(contentType string, body []byte) (code int, digit rune, why string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return sip.StatusOK, 0, ""
	}
	sig, err := dtmf.ParseINFO(contentType, body)
	switch {
	case errors.Is(err, dtmf.ErrUnsupportedType):
		return sip.StatusUnsupportedMediaType, 0, err.Error()
	case err != nil:
		return sip.StatusBadRequest, 0, err.Error()
	}
	return sip.StatusOK, sig.Digit, ""
}
