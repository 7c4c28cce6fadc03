package auth

import "strings"

// authParams are the fields of a Digest Authorization header that Verify
// uses. Values are substrings of the header (no copies), except quoted
// strings with backslash escapes, which are rare.
//
// We parse by hand rather than with icholy/digest.ParseCredentials: that
// parser allocates per parameter, matches parameter names case-sensitively
// (RFC 3261 §25.1 makes them case-insensitive), rejects tabs and unquoted
// values with characters outside [A-Za-z0-9-], and keeps the last of
// duplicate parameters where we want to reject the header.
type authParams struct {
	username, realm, nonce, uri, response string
	algorithm, cnonce, qop, nc            string
	userhash                              bool
	has                                   uint16
}

const (
	hasUsername uint16 = 1 << iota
	hasRealm
	hasNonce
	hasURI
	hasResponse
	hasAlgorithm
	hasCnonce
	hasOpaque
	hasQOP
	hasNC
	hasUserhash

	hasRequired = hasUsername | hasRealm | hasNonce | hasURI | hasResponse
)

// parse fills p from header and returns "" or the reason it is unusable.
func (p *authParams) parse(h string) string {
	if len(h) > maxHeader {
		return reasonMalformed
	}
	i := skipWS(h, 0)
	j := i
	for j < len(h) && isTokenChar(h[j]) {
		j++
	}
	if j == i {
		return reasonMalformed
	}
	if !strings.EqualFold(h[i:j], "Digest") {
		return reasonScheme
	}
	if j < len(h) && !isWS(h[j]) {
		return reasonMalformed
	}
	i = j
	for {
		// Skip separators; the #rule allows empty list elements.
		for i < len(h) && (isWS(h[i]) || h[i] == ',') {
			i++
		}
		if i == len(h) {
			break
		}
		j = i
		for j < len(h) && isTokenChar(h[j]) {
			j++
		}
		if j == i {
			return reasonMalformed
		}
		name := h[i:j]
		i = skipWS(h, j)
		if i == len(h) || h[i] != '=' {
			return reasonMalformed
		}
		i = skipWS(h, i+1)
		var value string
		if i < len(h) && h[i] == '"' {
			var ok bool
			if value, i, ok = quoted(h, i); !ok {
				return reasonMalformed
			}
		} else {
			j = i
			for j < len(h) && !isWS(h[j]) && h[j] != ',' && h[j] != '"' {
				j++
			}
			if j == i {
				return reasonMalformed
			}
			value, i = h[i:j], j
		}
		i = skipWS(h, i)
		if i < len(h) && h[i] != ',' {
			return reasonMalformed
		}
		if !p.set(name, value) {
			return reasonMalformed
		}
	}
	if p.has&hasRequired != hasRequired {
		return reasonMalformed
	}
	return ""
}

// set stores one parameter; false on a duplicate, which could otherwise make
// us check one value while a proxy or log shows another.
func (p *authParams) set(name, value string) bool {
	var bit uint16
	var dst *string
	// Dispatch on length first: EqualFold down a list of names was a third
	// of Verify's time.
	switch len(name) {
	case 2:
		if strings.EqualFold(name, "nc") {
			bit, dst = hasNC, &p.nc
		}
	case 3:
		switch {
		case strings.EqualFold(name, "uri"):
			bit, dst = hasURI, &p.uri
		case strings.EqualFold(name, "qop"):
			bit, dst = hasQOP, &p.qop
		}
	case 5:
		switch {
		case strings.EqualFold(name, "realm"):
			bit, dst = hasRealm, &p.realm
		case strings.EqualFold(name, "nonce"):
			bit, dst = hasNonce, &p.nonce
		}
	case 6:
		switch {
		case strings.EqualFold(name, "cnonce"):
			bit, dst = hasCnonce, &p.cnonce
		case strings.EqualFold(name, "opaque"):
			// We issue no opaque; accept and ignore one echoed by the client.
			bit = hasOpaque
		}
	case 8:
		switch {
		case strings.EqualFold(name, "username"):
			bit, dst = hasUsername, &p.username
		case strings.EqualFold(name, "response"):
			bit, dst = hasResponse, &p.response
		case strings.EqualFold(name, "userhash"):
			bit = hasUserhash
			p.userhash = strings.EqualFold(value, "true")
		}
	case 9:
		if strings.EqualFold(name, "algorithm") {
			bit, dst = hasAlgorithm, &p.algorithm
		}
	}
	if bit == 0 {
		return true // extension parameters are ignored (RFC 7616 §3.4)
	}
	if p.has&bit != 0 {
		return false
	}
	p.has |= bit
	if dst != nil {
		*dst = value
	}
	return true
}

// quoted parses the quoted-string starting at h[i] == '"' and returns its
// unescaped value and the index after the closing quote.
func quoted(h string, i int) (string, int, bool) {
	start := i + 1
	escaped := false
	for j := start; j < len(h); j++ {
		switch h[j] {
		case '\\':
			escaped = true
			j++ // skip the escaped character
		case '"':
			if !escaped {
				return h[start:j], j + 1, true
			}
			return unescape(h[start:j]), j + 1, true
		}
	}
	return "", len(h), false
}

// unescape removes quoted-pair backslashes from s.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func skipWS(h string, i int) int {
	for i < len(h) && isWS(h[i]) {
		i++
	}
	return i
}

// isWS accepts folded headers (CR LF) as well as SP and HTAB.
func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isTokenChar reports whether c may appear in an RFC 3261 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}
