package provisioning

import (
	"context"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// TrunkInput is what an admin types for a trunk; nil fields are not given.
type TrunkInput struct {
	Mode, Host, Transport, Username, Password, Realm *string
	Port, Priority                                   *int
	Enabled                                          *bool
}

var trunks = entity[store.Trunk, store.Trunk]{
	kind: kindTrunk,
	repo: store.Store.Trunks,
	fields: map[string]string{"name": "NAME", "mode": "--mode", "host": "--host", "port": "--port",
		"transport": "--transport", "username": "--username", "password": "--password", "realm": "--realm", "priority": "--priority"},
}

// DefaultTrunkPriority leaves room to put trunks both before and after one
// added without a priority.
const DefaultTrunkPriority = 10

func applyTrunk(tr *store.Trunk, in TrunkInput) error {
	if in.Mode != nil {
		switch m := store.TrunkMode(strings.ToLower(strings.TrimSpace(*in.Mode))); m {
		case store.TrunkRegister, store.TrunkPeer:
			tr.Mode = m
		default:
			return Invalid("--mode", *in.Mode, "unknown trunk mode", "use register (we register with a username and password) or peer (the operator trusts our address)")
		}
	}
	if in.Host != nil {
		h := strings.ToLower(strings.TrimSpace(*in.Host))
		if h == "" || strings.ContainsAny(h, " /:@") {
			return Invalid("--host", *in.Host, "is not a host name or IP address", "give the operator's SIP host, e.g. --host sip.operator.no (the port goes in --port)")
		}
		tr.Host = h
	}
	if err := required("--host", tr.Host, "give the operator's SIP host, e.g. --host sip.operator.no"); err != nil {
		return err
	}
	if in.Transport != nil {
		switch t := strings.ToLower(strings.TrimSpace(*in.Transport)); t {
		case "udp", "tcp", "tls":
			// A port that was only the old transport's default follows the
			// transport, so switching to tls does not keep 5060.
			if in.Port == nil && tr.Port == defaultPort(tr.Transport) {
				tr.Port = 0
			}
			tr.Transport = t
		default:
			return Invalid("--transport", *in.Transport, "unknown transport", "use udp, tcp or tls")
		}
	}
	if in.Port != nil {
		if *in.Port < 1 || *in.Port > 65535 {
			return Invalid("--port", fmt.Sprint(*in.Port), "is not a port number", "use 1 to 65535 (5060 for udp/tcp, 5061 for tls)")
		}
		tr.Port = *in.Port
	}
	if tr.Port == 0 {
		tr.Port = defaultPort(tr.Transport)
	}
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 1000 {
			return Invalid("--priority", fmt.Sprint(*in.Priority), "is out of range", "use 0 to 1000; lower is tried first")
		}
		tr.Priority = *in.Priority
	}
	str(&tr.Username, in.Username)
	str(&tr.Realm, in.Realm)
	if in.Password != nil {
		tr.Password = *in.Password // the operator chose it: no policy applies
	}
	if in.Enabled != nil {
		tr.Enabled = *in.Enabled
	}
	if tr.Mode == store.TrunkRegister && (tr.Username == "" || tr.Password == "") {
		field := "--username"
		if tr.Username != "" {
			field = "--password"
		}
		return Invalid(field, "", "a register trunk needs the username and password the operator gave you",
			"give --username and --password-stdin (or --password), or use --mode peer for a trunk trusted by address")
	}
	return nil
}

// AddTrunk creates a trunk to an operator.
func (s *Service) AddTrunk(ctx context.Context, tenant, name string, in TrunkInput) (store.Trunk, error) {
	return trunks.add(ctx, s, tenant, name, func(t store.Tenant, key string, tr *store.Trunk) error {
		*tr = store.Trunk{TenantID: t.ID, Name: key, Mode: store.TrunkRegister, Transport: "udp", Priority: DefaultTrunkPriority, Enabled: true}
		return applyTrunk(tr, in)
	})
}

// UpdateTrunk changes the given fields of a trunk.
func (s *Service) UpdateTrunk(ctx context.Context, tenant, name string, in TrunkInput) (store.Trunk, error) {
	return trunks.update(ctx, s, tenant, name, func(_ store.Tenant, tr *store.Trunk) error { return applyTrunk(tr, in) })
}

// RemoveTrunk deletes a trunk.
func (s *Service) RemoveTrunk(ctx context.Context, tenant, name string) (store.Trunk, error) {
	return trunks.remove(ctx, s, tenant, name)
}

// Trunk shows one trunk.
func (s *Service) Trunk(ctx context.Context, tenant, name string) (store.Trunk, error) {
	return trunks.get(ctx, s, tenant, name)
}

// Trunks lists a tenant's trunks.
func (s *Service) Trunks(ctx context.Context, tenant string) ([]store.Trunk, error) {
	return trunks.list(ctx, s, tenant)
}

// defaultPort is the SIP port of a transport (RFC 3261 §19.1.2).
func defaultPort(transport string) int {
	if transport == "tls" {
		return 5061
	}
	return 5060
}
