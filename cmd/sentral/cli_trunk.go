package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/sip/trunk"
)

// trunkStatusCols are the columns of `trunk status`; times are UTC.
var trunkStatusCols = []column[trunk.TrunkStatus]{
	{"tenant_id", func(t trunk.TrunkStatus) string { return strconv.FormatInt(t.TenantID, 10) }},
	{"name", func(t trunk.TrunkStatus) string { return t.Name }},
	{"state", func(t trunk.TrunkStatus) string { return string(t.State) }},
	{"code", func(t trunk.TrunkStatus) string {
		if t.Code == 0 {
			return ""
		}
		return strconv.Itoa(t.Code) + " " + t.Reason
	}},
	{"registered_until", func(t trunk.TrunkStatus) string { return stamp(t.RegisteredUntil) }},
	{"next_attempt", func(t trunk.TrunkStatus) string { return stamp(t.NextAttempt) }},
	{"attempts", func(t trunk.TrunkStatus) string { return strconv.Itoa(t.Attempts) }},
	{"error", func(t trunk.TrunkStatus) string { return t.Error }},
	{"registrar", func(t trunk.TrunkStatus) string { return t.Registrar }},
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// trunkStatusCmd shows the registration state of the running server's
// register-mode trunks; it lives in that server's memory, so it is read
// from the admin API like `sip bans`.
func (a *app) trunkStatusCmd() *cobra.Command {
	return serverListCmd(a, "status [--server URL]",
		"Show the registration state of register-mode trunks (from the running server's admin API)",
		"/api/v1/trunks/status", trunkStatusCols)
}
