package httpapi

import (
	"net/http"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// The wiring passes these; keep the interfaces satisfiable by them.
var (
	_ Catalog       = (*catalog.Catalog)(nil)
	_ Authenticator = (*auth.Authenticator)(nil)
	_ Guard         = (*auth.Guard)(nil)
	_ Messages      = store.VoicemailStore(nil)
	_ http.Handler  = (*Handler)(nil)
)
