package mwi

import (
	"context"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/sip/auth"
	"github.com/sentralpbx/sentral/sip/self"
	"github.com/sentralpbx/sentral/store"
)

// The notifier declares the small interfaces it consumes; the catalog,
// the digest authenticator, the guard, the location service, the store's
// VoicemailStore and sipgo's client satisfy them (*catalog.Catalog,
// *auth.Authenticator, *auth.Guard, *location.Service, store.Voicemail(),
// *sipgo.Client).

// Catalog answers who owns a domain, which extensions exist, and the
// domain of a tenant (for the mailbox's address in NOTIFYs).
type Catalog interface {
	TenantByDomain(domain string) (store.Tenant, bool)
	Tenant(id int64) (store.Tenant, bool)
	Extension(tenantID int64, number string) (store.Extension, bool)
}

// DeviceAuth, when the Catalog also implements it, lets a desk phone
// subscribe to the mailboxes of the extensions on its line keys with its
// own credentials, as it registers them (registrar.DeviceAuth).
type DeviceAuth = auth.DeviceAuth

// Authenticator builds digest challenges and verifies answers to them.
type Authenticator interface {
	Challenge(realm string, stale bool, algorithms ...string) []string
	Verify(method, header, realm string, lookup func(user string) (auth.Credentials, bool)) auth.Result
}

// Guard is told the outcome of digest checks. Admission (bans, rates) is
// the SIP server's, before any handler runs.
type Guard interface {
	Failed(ip netip.Addr) (banned bool)
	Succeeded(ip netip.Addr)
}

// Locations gives the registered bindings of an extension.
type Locations interface {
	Bindings(tenantID int64, number string) []store.Binding
}

// Counter reads message counts; store.VoicemailStore is one.
type Counter interface {
	Counts(ctx context.Context, tenantID int64, mailbox string) (newCount, savedCount int, err error)
	CountsAll(ctx context.Context, tenantID int64) (map[string]store.VoicemailCounts, error)
}

// Sender starts client transactions through the SIP stack, so NOTIFYs
// leave by the listeners and connections the phones reached us on.
type Sender interface {
	TransactionRequest(ctx context.Context, req *sip.Request, options ...sipgo.ClientRequestOption) (sip.ClientTransaction, error)
}

// Listener is one of our bound SIP listeners.
type Listener = self.Listener

// Deps are the notifier's collaborators; all but Log are required.
type Deps struct {
	Catalog   Catalog
	Auth      Authenticator
	Guard     Guard
	Locations Locations
	Counts    Counter
	Sender    Sender
	Log       *zap.Logger
}

// Defaults for Options.
const (
	DefaultQueueSize     = 4096
	DefaultNotifyTimeout = 32 * time.Second // Timer F: a NOTIFY's transaction cannot take longer
	DefaultSweepInterval = 2 * time.Second
	DefaultMaxPerMailbox = 16
	DefaultCountsRetry   = 30 * time.Second
)

// Options tune the notifier. Zero values take the defaults.
type Options struct {
	// Listeners are our addresses: Via and Contact name them.
	Listeners []Listener
	// Host is advertised in Via and Contact for listeners bound to an
	// unspecified address (0.0.0.0, ::).
	Host string
	// Algorithms orders and filters the digest challenges, like the
	// registrar's option of the same name.
	Algorithms []string
	// MinExpires, DefaultExpires and MaxExpires bound subscriptions
	// (presence's defaults: 60 s, 1 h, 2 h).
	MinExpires, DefaultExpires, MaxExpires time.Duration
	// MaxPerMailbox bounds the subscriptions one mailbox may have; more
	// are refused with 403, so a looping or hostile phone cannot fill
	// memory with dialogs (DefaultMaxPerMailbox).
	MaxPerMailbox int
	// QueueSize bounds the registrations waiting for the worker; more are
	// dropped (DefaultQueueSize).
	QueueSize int
	// NotifyTimeout bounds one NOTIFY transaction (DefaultNotifyTimeout).
	NotifyTimeout time.Duration
	// SweepInterval is how often expired subscriptions are ended
	// (DefaultSweepInterval).
	SweepInterval time.Duration
	// CountsRetry is how long the worker waits before it retries reading
	// a tenant's counts after the store failed (DefaultCountsRetry).
	CountsRetry time.Duration
	// FlowAlive, if set, reports whether the connection a phone used
	// (tcp, tls, ws, wss) is still open; NOTIFYs for a closed one fail at
	// once instead of sipgo dialling a phone that cannot accept.
	FlowAlive func(network, addr string) bool
	// Now is the clock (time.Now).
	Now func() time.Time
}
