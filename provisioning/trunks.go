package provisioning

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// TrunkInput is what an admin types for a trunk; nil fields are not given.
type TrunkInput struct {
	Mode, Host, Transport, Username, Password, Realm *string
	Port, Priority                                   *int
	Enabled                                          *bool
	// Routes replace the route patterns when given ("+47", "+", or
	// 0047 for +47); an empty list makes the trunk inbound only.
	Routes *[]string
	// Peers replace the addresses and networks allowed to send calls.
	Peers     *[]string
	Emergency *bool
}

var trunks = entity[store.Trunk, store.Trunk]{
	kind: kindTrunk,
	repo: store.Store.Trunks,
	fields: map[string]string{"name": "NAME", "mode": "--mode", "host": "--host", "port": "--port",
		"transport": "--transport", "username": "--username", "password": "--password", "realm": "--realm", "priority": "--priority",
		"routes": "--route", "peer_addresses": "--peer", "emergency": "--emergency"},
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
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && a.Zone() == "" {
			h = a.String() // an IPv6 literal is stored bare; URIs bracket it
		} else if h == "" || strings.ContainsAny(h, " /:@[]") {
			return Invalid("--host", *in.Host, "is not a host name or IP address", "give the operator's SIP host, e.g. --host sip.operator.no or --host 2001:db8::5 (the port goes in --port)")
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
	if in.Emergency != nil {
		tr.Emergency = *in.Emergency
	}
	if in.Routes != nil {
		routes, err := parseRoutes(*in.Routes)
		if err != nil {
			return err
		}
		tr.Routes = routes
	}
	if in.Peers != nil {
		peers, err := parsePeers(*in.Peers)
		if err != nil {
			return err
		}
		tr.PeerAddresses = peers
	}
	if tr.Mode == store.TrunkPeer && len(tr.PeerAddresses) == 0 {
		return Invalid("--peer", "", "a peer trunk needs the addresses the operator sends calls from: calls from anywhere else are refused",
			"give each address or network the operator uses, e.g. --peer 192.0.2.10 --peer 198.51.100.0/24 (ask the operator for its list)")
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

// parseRoutes reads route patterns: + and up to 15 digits; 00 in front is
// read as + (0047 is +47). Duplicates are refused.
func parseRoutes(values []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, v := range values {
		r := strings.TrimSpace(v)
		if r == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(r, "00"); ok {
			r = "+" + rest
		}
		if !store.ValidRoute(r) {
			return nil, Invalid("--route", v, fmt.Sprintf("is not a route: + and up to %d digits of an E.164 number", store.MaxRouteDigits),
				"give the start of the numbers the trunk carries, e.g. --route +47 (Norway), --route +4781 or --route + (everything)")
		}
		if seen[r] {
			return nil, Invalid("--route", v, "is given twice", "give each route once")
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

// parsePeers reads the addresses and networks a trunk accepts calls from.
func parsePeers(values []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		p, err := store.CanonicalPeer(v)
		if err != nil {
			fix := "give an IP address (192.0.2.10, 2001:db8::10) or a network (198.51.100.0/24), not a host name"
			if n, perr := netip.ParsePrefix(strings.TrimSpace(v)); perr == nil && n.Masked() != n {
				fix = fmt.Sprintf("write the network as --peer %s, or the one address as --peer %s", n.Masked(), n.Addr())
			}
			return nil, Invalid("--peer", v, err.Error(), fix)
		}
		if seen[p] {
			return nil, Invalid("--peer", v, "is given twice", "give each address or network once")
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// defaultPort is the SIP port of a transport (RFC 3261 §19.1.2).
func defaultPort(transport string) int {
	if transport == "tls" {
		return 5061
	}
	return 5060
}
