package adminapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/sentralpbx/sentral/sip/auth"
)

// SIPBans is the running SIP server's abuse guard. Bans live only in the
// server's memory (they are short-lived and per node), so the API is the
// way to see them from outside the process.
type SIPBans interface {
	Bans() []auth.Ban
}

// WithSIPBans exposes the guard's bans at GET /api/v1/sip/bans. Call it
// before Handler; without it that endpoint answers 503.
func (a *API) WithSIPBans(b SIPBans) *API {
	a.bans = b
	return a
}

// Ban is one banned source in the API.
type Ban struct {
	Addr     string    `json:"addr"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
}

func (a *API) sipBans(w http.ResponseWriter, _ *http.Request) {
	if a.bans == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "SIP is not running on this server (sip.listen is empty)"})
		return
	}
	out := []Ban{}
	for _, b := range a.bans.Bans() {
		out = append(out, Ban{Addr: b.Addr.String(), Since: b.Since.UTC(), Until: b.Until.UTC(), Failures: b.Failures})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	writeJSON(w, http.StatusOK, out)
}
