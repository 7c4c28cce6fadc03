// Package trunk keeps Sentral registered with the operators' SIP trunks
// (Centrex/SIP services) that work in "register" mode: the operator knows
// where to send our incoming calls only because we REGISTER a Contact with
// it, answering its digest challenge with the trunk's username and
// password, and renewing the registration before it expires.
//
// One Registration per trunk runs one goroutine that registers, refreshes,
// retries with backoff after failures and unregisters when its context
// ends. The Manager runs the Registrations for the trunks in the store and
// follows changes to them. Trunks in "peer" mode need nothing from this
// package: the operator trusts our address (see docs/trunks.md).
//
// REGISTERs go out through the server's own sipgo user agent, and over UDP
// from the listener's socket, so the operator (and any NAT in between)
// sees the address it must send calls to.
package trunk

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// Options tune registrations; zero values take the defaults.
type Options struct {
	// Expires is the registration lifetime we ask for (DefaultExpires).
	// The registrar may grant less, or demand more with 423.
	Expires time.Duration
	// MinRefresh is the shortest interval between two REGISTERs of a
	// registered trunk (DefaultMinRefresh), whatever the registrar grants.
	MinRefresh time.Duration
	// RetryMin is the wait after the first failure (DefaultRetryMin); it
	// doubles with every further failure up to RetryMax.
	RetryMin time.Duration
	// RetryMax caps the wait between failed attempts (DefaultRetryMax).
	RetryMax time.Duration
	// Timeout bounds one REGISTER transaction (DefaultTimeout, RFC 3261
	// Timer F).
	Timeout time.Duration
	// UnregisterTimeout bounds the final REGISTER with Expires: 0 once
	// the context ends (DefaultUnregisterTimeout), so shutdown is not held
	// up by an operator that does not answer.
	UnregisterTimeout time.Duration
	// Instance, when set, is a URN (urn:uuid:...) sent as +sip.instance
	// in the Contact (RFC 5626), which lets the registrar replace our old
	// binding after a restart instead of keeping two.
	Instance string
	// UserAgent is the User-Agent header of our REGISTERs ("Sentral").
	UserAgent string
}

// Defaults for Options.
const (
	DefaultExpires           = time.Hour
	DefaultMinRefresh        = 5 * time.Second
	DefaultRetryMin          = 2 * time.Second
	DefaultRetryMax          = 5 * time.Minute
	DefaultTimeout           = 32 * time.Second
	DefaultUnregisterTimeout = 2 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Expires <= 0 {
		o.Expires = DefaultExpires
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = DefaultMinRefresh
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UnregisterTimeout <= 0 {
		o.UnregisterTimeout = DefaultUnregisterTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = "Sentral"
	}
	return o
}

// Contact says where the operator reaches us for one trunk.
type Contact struct {
	// Host and Port go into our Contact and Via: the address the
	// operator sends calls (and responses) to.
	Host string
	Port int
	// LocalAddr is the bound "ip:port" of the UDP listener REGISTERs must
	// leave from (ignored for TCP/TLS). Without it sipgo sends from a new
	// ephemeral socket, and a NAT would open its pinhole for that socket,
	// not for the listener the operator's calls must reach.
	LocalAddr string
}

// ContactFunc gives the Contact to register for a trunk. It is called when
// a registration starts, from the registration's goroutine.
type ContactFunc func(ctx context.Context, t store.Trunk) (Contact, error)

// Listener is one bound SIP listener, as sip/server reports it.
type Listener struct {
	Network string // udp, tcp, tls
	Addr    string // bound ip:port
}

// ListenerContacts returns a ContactFunc pointing each trunk at the first
// listener of its transport. advertise, when set, is the host put in
// Contact and Via (sip.advertise: a public name or address when behind
// NAT or bound to a wildcard address); otherwise the listener's own
// address, or for a wildcard listener the local address the system would
// use to reach the trunk's host.
func ListenerContacts(listeners []Listener, advertise string) ContactFunc {
	ls := append([]Listener(nil), listeners...)
	return func(ctx context.Context, t store.Trunk) (Contact, error) {
		network := transportOf(t)
		// A socket bound to an IPv4 address cannot reach an IPv6 operator
		// (and the reverse): prefer a listener of the host's family.
		var want netip.Addr
		if a, err := netip.ParseAddr(strings.Trim(t.Host, "[]")); err == nil {
			want = a.Unmap()
		}
		ordered := make([]Listener, 0, len(ls))
		for _, l := range ls {
			ap, err := netip.ParseAddrPort(l.Addr)
			if err != nil || !want.IsValid() {
				continue
			}
			a := ap.Addr().Unmap()
			if a.Is4() == want.Is4() || a.IsUnspecified() && a.Is6() { // [::] takes both
				ordered = append(ordered, l)
			}
		}
		ordered = append(ordered, ls...)
		for _, l := range ordered {
			if !strings.EqualFold(l.Network, network) {
				continue
			}
			ap, err := netip.ParseAddrPort(l.Addr)
			if err != nil {
				return Contact{}, fmt.Errorf("listener %s:%s: %w", l.Network, l.Addr, err)
			}
			c := Contact{Host: advertise, Port: int(ap.Port())}
			if network == "udp" {
				c.LocalAddr = l.Addr
			}
			if c.Host == "" && !ap.Addr().IsUnspecified() {
				c.Host = ap.Addr().Unmap().String()
			}
			if c.Host == "" {
				ip, err := outboundIP(ctx, t)
				if err != nil {
					return Contact{}, err
				}
				c.Host = ip
			}
			return c, nil
		}
		return Contact{}, fmt.Errorf("no %s listener for trunk %s", network, t.Name)
	}
}

// outboundIP is the local address the routing table picks towards the
// trunk's host; connecting a UDP socket sends nothing.
func outboundIP(ctx context.Context, t store.Trunk) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(t.Host, strconv.Itoa(portOf(t))))
	if err != nil {
		return "", fmt.Errorf("local address towards %s: %w", t.Host, err)
	}
	defer conn.Close()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return "", err
	}
	return ap.Addr().Unmap().String(), nil
}

func transportOf(t store.Trunk) string {
	if t.Transport == "" {
		return "udp"
	}
	return strings.ToLower(t.Transport)
}

func portOf(t store.Trunk) int {
	if t.Port > 0 {
		return t.Port
	}
	if transportOf(t) == "tls" {
		return 5061
	}
	return 5060
}

// State is where a registration stands.
type State string

// States of a registration.
const (
	// StateRegistering: an attempt is under way and no binding is known
	// to exist (the first REGISTER, or a retry after expiry).
	StateRegistering State = "registering"
	// StateRegistered: the registrar accepted our last REGISTER; the
	// binding lasts until RegisteredUntil and is renewed before then.
	StateRegistered State = "registered"
	// StateFailed: the last attempt failed; the next is at NextAttempt.
	StateFailed State = "failed"
	// StateStopped: the registration has ended (context done).
	StateStopped State = "stopped"
)

// Status is a snapshot of one registration, for `sentral trunk status`.
type Status struct {
	State State `json:"state"`
	// Code and Reason are the last final response's status line (0 when
	// no response came: timeout, transport error).
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Error says why the last attempt failed; empty after a success.
	Error string `json:"error,omitempty"`
	// RegisteredUntil is when the binding the registrar granted lapses
	// unless refreshed; zero when none is known.
	RegisteredUntil time.Time `json:"registered_until,omitzero"`
	// NextAttempt is when the next REGISTER goes out (refresh or retry).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastSuccess is when a REGISTER was last accepted.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Attempts counts failed attempts since the last success; the backoff
	// grows with it.
	Attempts int `json:"attempts"`
}

// TrunkStatus is a trunk's registration status with what identifies it.
type TrunkStatus struct {
	TenantID  int64  `json:"tenant_id"`
	Name      string `json:"name"`
	AOR       string `json:"aor"`
	Registrar string `json:"registrar"` // host:port;transport=...
	Status
}
