package ldap

import (
	"iter"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/search"
)

// search handles a SearchRequest.
func (s *session) search(m message) error {
	done := func(code int, matched, diag string) error {
		return s.write(envelope(m.id, resultOp(appSearchResultDone, code, matched, diag)))
	}
	req, err := parseSearch(m.op)
	if err != nil {
		return done(resultProtocolError, "", "malformed search request")
	}
	if s.bound == nil {
		s.srv.log.Debug("ldap search refused: not bound", zap.String("src", s.src),
			zap.Int("result", resultInsufficientAccessRights))
		return done(resultInsufficientAccessRights, "", "bind as cn=phonebook,o=<tenant> first")
	}
	base, err := parseDN(req.base)
	if err != nil {
		return done(resultInvalidDNSyntax, "", "invalid base DN")
	}
	entries := s.srv.dir.Entries(s.bound.id)
	b, matched, ok := locate(base, s.bound.name, entries)
	if !ok {
		s.srv.log.Debug("ldap search: no such base", zap.String("tenant", s.bound.name),
			zap.String("src", s.src), zap.Int("result", resultNoSuchObject))
		return done(resultNoSuchObject, matched, "no such object")
	}

	limit := s.srv.opts.MaxResults
	if req.sizeLimit > 0 && req.sizeLimit < int64(limit) {
		limit = int(req.sizeLimit)
	}
	sel := selectAttrs(req.attrs)
	sent, code := 0, resultSuccess
	for n := range scopeNodes(b, req.scope, entries) {
		if req.filter.match(&n) != triTrue {
			continue
		}
		if sent == limit {
			code = resultSizeLimitExceeded
			break
		}
		if err := s.write(envelope(m.id, entryOp(n.dn(), n.attributes(sel), req.typesOnly))); err != nil {
			return err
		}
		sent++
	}
	s.srv.log.Debug("ldap search", zap.String("tenant", s.bound.name), zap.String("src", s.src),
		zap.Int("entries", sent), zap.Int("result", code))
	if code == resultSizeLimitExceeded {
		return done(code, "", "size limit exceeded")
	}
	return done(code, "", "")
}

// locate finds the object named by base in the bound tenant's tree. A base
// in another tenant is indistinguishable from one that does not exist. On
// failure matched is the deepest existing ancestor (RFC 4511 matchedDN),
// never outside the tenant.
func locate(base dn, tenantName string, entries []search.Entry) (n node, matched string, ok bool) {
	root := node{kind: nodeRoot, tenant: tenantName}
	org := node{kind: nodeOrg, tenant: tenantName}
	ou := node{kind: nodeOU, tenant: tenantName}
	l := len(base)
	if l == 0 {
		return root, "", true
	}
	if !base[l-1].is(attrO, tenantName) {
		return node{}, "", false
	}
	if l == 1 {
		return org, "", true
	}
	if !base[l-2].is(attrOU, phonebookOU) {
		return node{}, org.dn(), false
	}
	if l == 2 {
		return ou, "", true
	}
	if l == 3 {
		if a, single := base[0].single(); single && a.typ == attrUID {
			if e := findEntry(entries, a.val); e != nil {
				return node{kind: nodeEntry, tenant: tenantName, e: e}, "", true
			}
		}
	}
	return node{}, ou.dn(), false
}

// findEntry finds the visible entry with uid "<kind>-<id>".
func findEntry(entries []search.Entry, uid string) *search.Entry {
	kind, idText, ok := strings.Cut(strings.ToLower(uid), "-")
	if !ok {
		return nil
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return nil
	}
	for i := range entries {
		if e := &entries[i]; e.ID == id && e.Kind == kind && visible(e) {
			return e
		}
	}
	return nil
}

// visible is a second line of defence: Directory.Entries promises no
// secret entries, and anything not plainly listed or internal is treated as
// secret, as package search does.
func visible(e *search.Entry) bool {
	return e.Visibility == search.VisibilityListed || e.Visibility == search.VisibilityInternal
}

// scopeNodes yields the objects a search of scope under base considers.
// The tree is root DSE → o=<tenant> → ou=phonebook → entries; the root DSE
// itself is only seen by a base-scope search (RFC 4511 section 4.5.1.2).
func scopeNodes(base node, scope int64, entries []search.Entry) iter.Seq[node] {
	return func(yield func(node) bool) {
		org := node{kind: nodeOrg, tenant: base.tenant}
		ou := node{kind: nodeOU, tenant: base.tenant}
		all := func() bool {
			for i := range entries {
				if e := &entries[i]; visible(e) && !yield(node{kind: nodeEntry, tenant: base.tenant, e: e}) {
					return false
				}
			}
			return true
		}
		if scope == scopeBase {
			yield(base)
			return
		}
		switch base.kind {
		case nodeRoot:
			if scope == scopeOne {
				yield(org)
				return
			}
			_ = yield(org) && yield(ou) && all()
		case nodeOrg:
			if scope == scopeOne {
				yield(ou)
				return
			}
			_ = yield(org) && yield(ou) && all()
		case nodeOU:
			if scope == scopeOne {
				all()
				return
			}
			_ = yield(ou) && all()
		case nodeEntry:
			if scope == scopeSub {
				yield(base)
			}
		}
	}
}
