package adminapi

import (
	"net/http"

	"github.com/sentralpbx/sentral/sip/trunk"
)

// TrunkStatus reports the running server's trunk registrations
// (*trunk.Manager). Like bans, this state lives in the server's memory.
type TrunkStatus interface {
	Status() []trunk.TrunkStatus
}

// WithTrunks exposes the trunks' registration state at
// GET /api/v1/trunks/status. Call it before Handler; without it that
// endpoint answers 503.
func (a *API) WithTrunks(t TrunkStatus) *API {
	a.trunks = t
	return a
}

func (a *API) trunkStatus(w http.ResponseWriter, _ *http.Request) {
	if a.trunks == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "SIP is not running on this server (sip.listen is empty)"})
		return
	}
	out := a.trunks.Status()
	if out == nil {
		out = []trunk.TrunkStatus{}
	}
	writeJSON(w, http.StatusOK, out)
}
