// Package self knows our own SIP listener addresses: what we advertise in
// Via, Contact and Record-Route, which listener reaches a destination
// (by transport and address family), and whether a host:port names us.
package self

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Listener is one of our bound SIP listeners.
type Listener struct {
	Network string // udp, tcp, tls, ws, wss
	Addr    string // host:port as bound
}

// Addr is one of our listeners as advertised.
type Addr struct {
	Network string // lower case
	Host    string // advertised host
	Bound   string // host as bound
	Port    int
}

// Addrs are our listeners, in the order they were given.
type Addrs []Addr

// Parse turns bound listeners into advertised addresses. A listener bound
// to an unspecified address (0.0.0.0, ::, or no host) advertises host,
// which must then be set.
func Parse(ls []Listener, host string) (Addrs, error) {
	as := make(Addrs, 0, len(ls))
	for _, l := range ls {
		bound, portS, err := net.SplitHostPort(l.Addr)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Addr, err)
		}
		port, err := strconv.Atoi(portS)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Addr, err)
		}
		adv := bound
		if ip, err := netip.ParseAddr(bound); err == nil && ip.IsUnspecified() || bound == "" {
			if host == "" {
				return nil, fmt.Errorf("listener %s is bound to all addresses: set the advertised host", l.Addr)
			}
			adv = host
		}
		as = append(as, Addr{Network: strings.ToLower(l.Network), Host: adv, Bound: bound, Port: port})
	}
	return as, nil
}

// For picks our listener of network to reach dest (host:port): one of
// dest's address family when there is one (a UDP socket bound to an IPv4
// address cannot send to an IPv6 peer), else the first of network. dest
// may be empty or a name; then the first is taken.
func (as Addrs) For(network, dest string) (Addr, bool) {
	network = strings.ToLower(network)
	var want netip.Addr
	if host, _, err := net.SplitHostPort(dest); err == nil {
		want, _ = netip.ParseAddr(host)
	}
	first, found := Addr{}, false
	for _, s := range as {
		if s.Network != network {
			continue
		}
		if !found {
			first, found = s, true
		}
		if !want.IsValid() {
			break
		}
		if b, err := netip.ParseAddr(s.Bound); err == nil && !b.IsUnspecified() && b.Unmap().Is4() == want.Unmap().Is4() {
			return s, true
		}
	}
	return first, found
}

// IsUs reports whether host:port names one of our listeners, by its
// advertised or its bound host (case-insensitive, brackets optional). A
// port of 0 stands for the default port of transport, or when transport
// is empty of the listener's own network.
func (as Addrs) IsUs(host string, port int, transport string) bool {
	host = strings.Trim(strings.ToLower(host), "[]")
	for _, s := range as {
		if host != s.Host && host != s.Bound {
			continue
		}
		want := port
		if want == 0 {
			n := transport
			if n == "" {
				n = s.Network
			}
			want = DefaultPort(n)
		}
		if want == s.Port {
			return true
		}
	}
	return false
}

// DefaultPort is the port a SIP URI without one means for network: 5061
// for tls and wss, 5060 otherwise.
func DefaultPort(network string) int {
	switch strings.ToLower(network) {
	case "tls", "wss":
		return 5061
	}
	return 5060
}

// Contact is our Contact URI for user on this listener, with a transport
// parameter unless it is UDP.
func (a Addr) Contact(user string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: a.Host, Port: a.Port}
	if a.Network != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", a.Network)
	}
	return u
}

// Via is a Via header naming this listener, with empty parameters (the
// caller adds the branch).
func (a Addr) Via() *sip.ViaHeader {
	return &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: strings.ToUpper(a.Network),
		Host: a.Host, Port: a.Port, Params: sip.NewParams()}
}
