package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// PathPrefix is where the handler serves: mount it with
// mux.Handle(httpapi.PathPrefix, h), without stripping the prefix.
const PathPrefix = "/voicemail/"

// action is what a request asks for.
type action int

const (
	actList     action = iota + 1 // GET  .../messages
	actDownload                   // GET  .../messages/{id}.wav
	actDelete                     // DELETE .../messages/{id}
	actSave                       // POST .../messages/{id}/save
)

// route is a parsed request path: the mailbox and, but for the list, the
// message.
type route struct {
	action  action
	domain  string // lower case
	mailbox string
	id      int64
}

// allowed are the methods each action answers.
var allowed = map[action][]string{
	actList:     {http.MethodGet, http.MethodHead},
	actDownload: {http.MethodGet, http.MethodHead},
	actDelete:   {http.MethodDelete},
	actSave:     {http.MethodPost},
}

// parseRoute reads an escaped request path (URL.EscapedPath). Every
// segment must be in the narrow form it names, so nothing percent-encoded,
// no dot segments and no empty segments get through: the path never names
// a file (files come from the store), and what it names is checked before
// any lookup. ok is false for a path we do not serve (404); for a path we
// serve with the wrong method, ok is true and methodOK false (405).
func parseRoute(method, escapedPath string) (rt route, ok, methodOK bool) {
	rest, found := strings.CutPrefix(escapedPath, PathPrefix)
	if !found {
		return rt, false, false
	}
	seg := strings.Split(rest, "/")
	if len(seg) < 3 || len(seg) > 5 || seg[2] != "messages" {
		return rt, false, false
	}
	domain, ok := parseDomain(seg[0])
	if !ok || !validMailbox(seg[1]) {
		return rt, false, false
	}
	rt.domain, rt.mailbox = domain, seg[1]
	switch len(seg) {
	case 3:
		rt.action = actList
	case 4:
		if idText, wav := strings.CutSuffix(seg[3], ".wav"); wav {
			rt.action = actDownload
			rt.id, ok = parseID(idText)
		} else {
			rt.action = actDelete
			rt.id, ok = parseID(seg[3])
		}
	case 5:
		rt.action = actSave
		rt.id, ok = parseID(seg[3])
		ok = ok && seg[4] == "save"
	}
	if !ok {
		return route{}, false, false
	}
	for _, m := range allowed[rt.action] {
		if m == method {
			return rt, true, true
		}
	}
	return rt, true, false
}

// path is the inverse of parseRoute: the path of rt.
func (rt route) path() string {
	base := PathPrefix + rt.domain + "/" + rt.mailbox + "/messages"
	id := strconv.FormatInt(rt.id, 10)
	switch rt.action {
	case actDownload:
		return base + "/" + id + ".wav"
	case actDelete:
		return base + "/" + id
	case actSave:
		return base + "/" + id + "/save"
	}
	return base
}

// parseDomain accepts a DNS name (letters, digits, hyphens, dots between
// labels of 1 to 63 characters) and returns it in lower case. It becomes
// the digest realm, quoted into WWW-Authenticate, so nothing else may
// pass.
func parseDomain(s string) (string, bool) {
	if s == "" || len(s) > 253 {
		return "", false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}

// validMailbox accepts an extension number as the store allows them.
func validMailbox(s string) bool {
	if len(s) < store.MinExtensionDigits || len(s) > store.MaxExtensionDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseID accepts a message id in canonical decimal: positive, no sign,
// no leading zeros, so each message has exactly one URL.
func parseID(s string) (int64, bool) {
	if s == "" || len(s) > 18 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
