package server

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Listener is one transport and address the SIP server listens on.
type Listener struct {
	Network string // udp, tcp, tls, ws or wss
	Addr    string // host:port; port 0 picks a free port
}

// String renders the listener the way the listen spec spells it.
func (l Listener) String() string { return l.Network + ":" + l.Addr }

// Secure reports whether the listener needs a TLS certificate.
func (l Listener) Secure() bool { return l.Network == "tls" || l.Network == "wss" }

// ParseListen parses a listen spec such as
// "udp:127.0.0.1:5070,tcp:127.0.0.1:5070,tls:127.0.0.1:5071,ws:127.0.0.1:8088".
// IPv6 hosts are written in brackets ("udp:[::1]:5060").
func ParseListen(spec string) ([]Listener, error) {
	var out []Listener
	seen := make(map[string]bool)
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		network, addr, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("sip listen %q: want transport:host:port, e.g. udp:0.0.0.0:5060", part)
		}
		network = strings.ToLower(network)
		switch network {
		case "udp", "tcp", "tls", "ws", "wss":
		default:
			return nil, fmt.Errorf("sip listen %q: transport %q: use udp, tcp, tls, ws or wss", part, network)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("sip listen %q: %w", part, err)
		}
		if host != "" && net.ParseIP(host) == nil {
			// Binding by name would make the bound address depend on DNS at start.
			return nil, fmt.Errorf("sip listen %q: host %q: use an IP address", part, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strconv.Itoa(n) != port {
			return nil, fmt.Errorf("sip listen %q: port %q: use a number from 0 to 65535 (0 picks a free port)", part, port)
		}
		l := Listener{Network: network, Addr: addr}
		if seen[l.String()] {
			return nil, fmt.Errorf("sip listen %q: listed twice", part)
		}
		seen[l.String()] = true
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sip listen %q: no listeners", spec)
	}
	return out, nil
}
