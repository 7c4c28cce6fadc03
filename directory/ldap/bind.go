package ldap

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
)

// bindUser is the RDN value of the phone-book bind DN, cn=phonebook,o=<tenant>.
const bindUser = "phonebook"

// msgInvalidCredentials is the one answer to every failed bind, so that a
// scanner cannot tell an unknown tenant from a wrong password.
const msgInvalidCredentials = "invalid credentials"

// bind handles a BindRequest. Any bind first drops the previous identity
// (RFC 4513 section 4): a failed bind leaves the connection anonymous.
func (s *session) bind(ctx context.Context, m message) error {
	req, err := parseBind(m.op)
	reply := func(code int, diag string) error {
		return s.write(envelope(m.id, resultOp(appBindResponse, code, "", diag)))
	}
	if err != nil {
		return reply(resultProtocolError, "malformed bind request")
	}
	s.bound = nil
	switch {
	case req.version != 3 && req.version != 2:
		// Some DECT bases still speak LDAPv2; its simple bind is the same.
		return reply(resultProtocolError, "LDAP version 3 required")
	case !req.simple:
		return reply(resultAuthMethodNotSupported, "only simple bind is supported")
	case req.name == "" && req.password == "":
		s.srv.log.Debug("ldap anonymous bind", zap.String("src", s.src))
		return reply(resultSuccess, "")
	case req.password == "":
		// An "unauthenticated bind" (RFC 4513 section 5.1.2) must not
		// pass for a successful one.
		return reply(resultUnwillingToPerform, "unauthenticated bind is not allowed")
	}

	start := time.Now()
	t, locked, ok := s.srv.authenticate(s, req.name, req.password)
	if !ok {
		s.srv.failureDelay(ctx, start)
		s.srv.log.Info("ldap bind failed",
			zap.String("tenant", bindTenantName(req.name)), zap.String("src", s.src),
			zap.Bool("locked_out", locked), zap.Int("result", resultInvalidCredentials))
		return reply(resultInvalidCredentials, msgInvalidCredentials)
	}
	s.bound = t
	s.srv.log.Debug("ldap bind", zap.String("tenant", t.name), zap.String("src", s.src))
	return reply(resultSuccess, "")
}

// authenticate checks a simple bind. It refuses, without checking, peers
// that failed too often.
func (srv *Server) authenticate(s *session, bindDN, password string) (t *tenant, locked, ok bool) {
	if s.peer.IsValid() && srv.guard.locked(s.peer) {
		return nil, true, false
	}
	t, ok = srv.checkBind(bindDN, password)
	if !ok && s.peer.IsValid() {
		srv.guard.fail(s.peer)
	}
	return t, false, ok
}

func (srv *Server) checkBind(bindDN, password string) (*tenant, bool) {
	name := bindTenantName(bindDN)
	if name == "" {
		return nil, false
	}
	id, ok := srv.dir.TenantByName(name)
	if !ok {
		return nil, false
	}
	if !srv.dir.CheckPhonebookPassword(id, password) {
		return nil, false
	}
	return &tenant{id: id, name: name}, true
}

// bindTenantName returns the tenant of a bind DN cn=phonebook,o=<tenant>,
// lower case, or "" when bindDN has another shape.
func bindTenantName(bindDN string) string {
	d, err := parseDN(bindDN)
	if err != nil || len(d) != 2 || !d[0].is(attrCN, bindUser) {
		return ""
	}
	o, ok := d[1].single()
	if !ok || o.typ != attrO || o.val == "" {
		return ""
	}
	return strings.ToLower(o.val)
}

// failureDelay sleeps until FailureDelay after start, or until ctx ends.
// Every failed bind thus takes the same time unless the check itself was
// slower.
func (srv *Server) failureDelay(ctx context.Context, start time.Time) {
	d := srv.opts.FailureDelay - time.Since(start)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
