package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory"
	"github.com/sentralpbx/sentral/directory/billing"
	"github.com/sentralpbx/sentral/directory/ldap"
	"github.com/sentralpbx/sentral/store"
)

// directoryServices are the long-running parts of the directory: the
// LDAP phone book (when configured) and the rating of call records.
type directoryServices struct {
	ldap   *ldap.Server
	ldapLn net.Listener // nil when LDAP is off
	rater  *billing.Service
	cfg    Config
}

// newDirectoryServices binds the LDAP listener, so a taken port fails the
// start rather than a goroutine later.
func newDirectoryServices(cfg Config, st store.Store, dir *directory.Directory, log *zap.Logger) (*directoryServices, error) {
	ds := &directoryServices{rater: billing.NewService(st, log.Named("billing")), cfg: cfg}
	dc := cfg.Directory
	if dc.LDAPListen == "" {
		log.Info("LDAP phone book disabled (directory.ldap_listen is empty)")
		return ds, nil
	}
	var opts ldap.Options
	if dc.LDAPTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(dc.LDAPTLSCert, dc.LDAPTLSKey)
		if err != nil {
			return nil, usageError{fmt.Errorf("config directory.ldap_tls_cert: %w", err)}
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv, err := ldap.New(dir, log.Named("ldap"), opts)
	if err != nil {
		return nil, fmt.Errorf("ldap phone book: %w", err)
	}
	ln, err := net.Listen("tcp", dc.LDAPListen)
	if err != nil {
		return nil, usageError{fmt.Errorf("directory.ldap_listen %s: %w (choose a free address, or '' to disable)", dc.LDAPListen, err)}
	}
	ds.ldap, ds.ldapLn = srv, ln
	return ds, nil
}

// addr is the LDAP listener's address, "" when off.
func (ds *directoryServices) addr() string {
	if ds == nil || ds.ldapLn == nil {
		return ""
	}
	return "ldap://" + ds.ldapLn.Addr().String()
}

// close releases the listener when serve fails before running.
func (ds *directoryServices) close() {
	if ds != nil && ds.ldapLn != nil {
		_ = ds.ldapLn.Close()
	}
}

// run starts each service through start, as sipStack.run does.
func (ds *directoryServices) run(start func(name string, f func(context.Context) error)) {
	if ds.ldap != nil {
		start("ldap phone book", func(ctx context.Context) error { return ds.ldap.Serve(ctx, ds.ldapLn) })
	}
	start("billing", func(ctx context.Context) error { return ds.rater.Run(ctx, ds.cfg.Billing.RateInterval) })
}
