package mwi

import (
	"github.com/emiago/sipgo"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/catalog"
)

// The wiring passes these; keep the interfaces satisfiable by them.
var (
	_ Catalog       = (*catalog.Catalog)(nil)
	_ Authenticator = (*auth.Authenticator)(nil)
	_ Guard         = (*auth.Guard)(nil)
	_ Locations     = (*location.Service)(nil)
	_ Counter       = store.VoicemailStore(nil)
	_ Sender        = (*sipgo.Client)(nil)
)
