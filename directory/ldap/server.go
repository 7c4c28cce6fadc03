package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/search"
)

// Directory is the phone-book data the LDAP server reads. The real
// implementation lives in package directory.
type Directory interface {
	// TenantByName finds a tenant by its short name (e.g. "fjordvik").
	TenantByName(name string) (tenantID int64, ok bool)
	// CheckPhonebookPassword reports whether password is the tenant's phone-book bind password.
	CheckPhonebookPassword(tenantID int64, password string) bool
	// Entries returns the tenant's phone book as phones may see it (listed and internal entries, never secret ones), in Norwegian sort order. The slice must not be modified.
	Entries(tenantID int64) []search.Entry
}

// Defaults for Options fields left zero.
const (
	DefaultMaxResults      = 500
	DefaultMaxConns        = 256
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultMaxBindFailures = 10
	DefaultFailureWindow   = time.Minute
	DefaultFailureDelay    = 300 * time.Millisecond
)

// maxMessageBytes caps one LDAP request; phone-book requests are tiny.
const maxMessageBytes = 64 << 10

// writeTimeout bounds sending one response to a client that stopped reading.
const writeTimeout = 10 * time.Second

// Options tune the server. Zero values select the defaults.
type Options struct {
	// TLS holds the certificate for StartTLS and, with LDAPS, for
	// ListenAndServe. Nil disables both.
	TLS *tls.Config
	// LDAPS makes ListenAndServe speak TLS from the first byte (port 636
	// style). It needs TLS.
	LDAPS bool
	// MaxResults is the server's size limit per search (DefaultMaxResults).
	MaxResults int
	// MaxConns caps concurrent connections (DefaultMaxConns); more are
	// closed on accept.
	MaxConns int
	// IdleTimeout closes a connection that sends nothing for this long
	// (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// MaxBindFailures is the number of failed binds per peer address per
	// FailureWindow before binds from that address are refused unchecked
	// (DefaultMaxBindFailures; negative disables the lock-out).
	MaxBindFailures int
	// FailureWindow is the lock-out window (DefaultFailureWindow).
	FailureWindow time.Duration
	// FailureDelay is the minimum time a failed bind takes, so that an
	// unknown tenant and a wrong password look alike (DefaultFailureDelay).
	FailureDelay time.Duration
}

// Server is a read-only LDAP v3 phone-book server.
type Server struct {
	dir   Directory
	log   *zap.Logger
	opts  Options
	guard *bindGuard
	slots chan struct{} // one token per open connection
	now   func() time.Time
}

// New returns a server reading from dir.
func New(dir Directory, log *zap.Logger, opts Options) (*Server, error) {
	if dir == nil {
		return nil, errors.New("ldap: nil directory")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if opts.LDAPS && opts.TLS == nil {
		return nil, errors.New("ldap: LDAPS needs a TLS config")
	}
	if opts.MaxResults <= 0 {
		opts.MaxResults = DefaultMaxResults
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxBindFailures == 0 {
		opts.MaxBindFailures = DefaultMaxBindFailures
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = DefaultFailureWindow
	}
	if opts.FailureDelay <= 0 {
		opts.FailureDelay = DefaultFailureDelay
	}
	s := &Server{
		dir:   dir,
		log:   log.Named("ldap"),
		opts:  opts,
		slots: make(chan struct{}, opts.MaxConns),
		now:   time.Now,
	}
	s.guard = newBindGuard(opts.MaxBindFailures, opts.FailureWindow, func() time.Time { return s.now() })
	return s, nil
}

// ListenAndServe listens on the TCP address addr (e.g. ":389") and serves
// until ctx ends. With Options.LDAPS every connection is TLS.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("ldap listen %s: %w", addr, err)
	}
	if s.opts.LDAPS {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx ends or accepting fails. It
// closes ln and every connection, and waits for their goroutines, before it
// returns; the result is nil when ctx ended.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer ln.Close()

	s.log.Info("ldap phone book listening", zap.Stringer("addr", ln.Addr()))
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off briefly.
				select {
				case <-time.After(50 * time.Millisecond):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("ldap accept: %w", err)
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.Warn("ldap connection refused: too many connections",
				zap.String("src", c.RemoteAddr().String()), zap.Int("max", s.opts.MaxConns))
			_ = c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(ctx, c)
		}()
	}
}
