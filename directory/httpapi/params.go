package httpapi

import (
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/sentralpbx/sentral/directory/search"
)

// Bounds of the query parameters.
const (
	// MaxQueryLength bounds q in characters: every query word is matched
	// against the whole vocabulary, so the work grows with the words.
	MaxQueryLength = 200
	// MaxOffset bounds offset so that offset+limit cannot overflow.
	MaxOffset = 1<<31 - 1
)

// params are the parsed query parameters of a directory search.
type params struct {
	q           string
	limit       int
	offset      int
	switchboard bool
}

// paramError is a bad query parameter: the client gets 400 with the
// parameter's name and what it may be.
type paramError struct {
	param string
	msg   string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

// parseParams reads q, limit, offset and switchboard. Other parameters are
// ignored (a cache-busting "_" or a tracing id must not break clients); a
// known parameter given twice is refused, so that no proxy or log shows a
// value other than the one used.
func parseParams(v url.Values) (params, error) {
	p := params{limit: search.DefaultLimit}
	for _, name := range []string{"q", "limit", "offset", "switchboard"} {
		if len(v[name]) > 1 {
			return p, &paramError{name, "given more than once"}
		}
	}
	p.q = v.Get("q")
	if !utf8.ValidString(p.q) {
		return p, &paramError{"q", "must be UTF-8 text"}
	}
	if utf8.RuneCountInString(p.q) > MaxQueryLength {
		return p, &paramError{"q", fmt.Sprintf("must be at most %d characters", MaxQueryLength)}
	}
	var err error
	if s, ok := single(v, "limit"); ok {
		if p.limit, err = intInRange(s, 1, search.MaxLimit); err != nil {
			return p, &paramError{"limit", err.Error()}
		}
	}
	if s, ok := single(v, "offset"); ok {
		if p.offset, err = intInRange(s, 0, MaxOffset); err != nil {
			return p, &paramError{"offset", err.Error()}
		}
	}
	if s, ok := single(v, "switchboard"); ok {
		switch s {
		case "1", "true":
			p.switchboard = true
		case "0", "false", "":
		default:
			return p, &paramError{"switchboard", fmt.Sprintf("must be 1 or 0 (got %s)", quoteInput(s))}
		}
	}
	return p, nil
}

// single returns the parameter's value when it is present.
func single(v url.Values, name string) (string, bool) {
	vs, ok := v[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// intInRange parses a decimal integer in [lo, hi]; the error says the range.
func intInRange(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d (got %s)", lo, hi, quoteInput(s))
	}
	return n, nil
}

// quoteInput quotes client input for an error message, cut short: the
// message is for a human, not an echo service.
func quoteInput(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// YealinkSearchPlaceholder is what Yealink phones replace with the text
// typed on the phone; a phone that fetches the whole book sends it as is.
const YealinkSearchPlaceholder = "#SEARCH"

// phonebookQuery reads the optional q of a phone book request: empty, or
// the unreplaced Yealink placeholder, asks for the whole book.
func phonebookQuery(v url.Values) (string, error) {
	if len(v["q"]) > 1 {
		return "", &paramError{"q", "given more than once"}
	}
	q := v.Get("q")
	if q == YealinkSearchPlaceholder {
		return "", nil
	}
	if !utf8.ValidString(q) {
		return "", &paramError{"q", "must be UTF-8 text"}
	}
	if utf8.RuneCountInString(q) > MaxQueryLength {
		return "", &paramError{"q", fmt.Sprintf("must be at most %d characters", MaxQueryLength)}
	}
	return q, nil
}
