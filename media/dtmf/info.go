package dtmf

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// Content types of SIP INFO DTMF bodies.
const (
	ContentTypeRelay = "application/dtmf-relay" // "Signal=5\r\nDuration=160\r\n" (Cisco)
	ContentTypeDTMF  = "application/dtmf"       // "5"
)

// Errors from ParseINFO, for callers that answer 415 rather than 400.
var (
	ErrUnsupportedType = errors.New("dtmf: unsupported INFO content type")
	ErrBadBody         = errors.New("dtmf: malformed INFO body")
)

// maxINFODuration bounds the Duration field: nobody holds a key for a
// minute, and a bound keeps a hostile value from overflowing arithmetic on
// the result.
const maxINFODuration = 60_000 // milliseconds

// Signal is a key press received in a SIP INFO request.
type Signal struct {
	Code     byte          // event code, 0-15 (see Digit)
	Digit    rune          // the key
	Duration time.Duration // as sent; 0 when the body gives none
}

// ParseINFO parses the body of a SIP INFO request carrying DTMF, given its
// Content-Type header value (parameters and case are ignored).
func ParseINFO(contentType string, body []byte) (Signal, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Signal{}, fmt.Errorf("%w %q: %v", ErrUnsupportedType, contentType, err)
	}
	switch mt {
	case ContentTypeRelay:
		return parseRelay(string(body))
	case ContentTypeDTMF:
		s := strings.TrimSpace(string(body))
		if strings.Contains(s, "=") {
			// Some phones send the dtmf-relay format under this type.
			return parseRelay(s)
		}
		code, err := parseKey(s)
		if err != nil {
			return Signal{}, err
		}
		return Signal{Code: code, Digit: Digit(code)}, nil
	}
	return Signal{}, fmt.Errorf("%w %q", ErrUnsupportedType, mt)
}

// parseRelay parses "key=value" lines. Keys are case-insensitive, blanks
// around keys and values and CR/LF/CRLF line ends are accepted since phones
// differ on all of these; unknown keys are ignored, a repeated key is not,
// because the two values could disagree.
func parseRelay(body string) (Signal, error) {
	var (
		sig         Signal
		gotSignal   bool
		gotDuration bool
	)
	for line := range strings.Lines(strings.ReplaceAll(body, "\r", "\n")) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Signal{}, fmt.Errorf("%w: line %q is not key=value", ErrBadBody, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "Signal"):
			if gotSignal {
				return Signal{}, fmt.Errorf("%w: Signal repeated", ErrBadBody)
			}
			code, err := parseKey(v)
			if err != nil {
				return Signal{}, err
			}
			sig.Code, sig.Digit, gotSignal = code, Digit(code), true
		case strings.EqualFold(k, "Duration"):
			if gotDuration {
				return Signal{}, fmt.Errorf("%w: Duration repeated", ErrBadBody)
			}
			ms, err := strconv.ParseUint(v, 10, 32)
			if err != nil || ms > maxINFODuration {
				return Signal{}, fmt.Errorf("%w: Duration %q is not 0-%d ms", ErrBadBody, v, maxINFODuration)
			}
			sig.Duration, gotDuration = time.Duration(ms)*time.Millisecond, true
		}
	}
	if !gotSignal {
		return Signal{}, fmt.Errorf("%w: no Signal", ErrBadBody)
	}
	return sig, nil
}

// parseKey accepts a key character or its event code in decimal: phones
// send both "Signal=*" and "Signal=10".
func parseKey(s string) (byte, error) {
	if len(s) == 1 {
		if code, ok := CodeOf(rune(s[0])); ok {
			return code, nil
		}
	}
	if len(s) == 2 && s[0] == '1' && s[1] >= '0' && s[1] <= '5' {
		return 10 + s[1] - '0', nil
	}
	return 0, fmt.Errorf("%w: %q is not a DTMF key", ErrBadBody, s)
}
