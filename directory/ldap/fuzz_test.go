package ldap

import (
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// FuzzFilter feeds filter strings through a client's BER encoding into our
// decoder and evaluator: they must never panic.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"(|(cn=kar*)(sn=kar*)(givenName=kar*)(telephoneNumber=*4711*))",
		"(&(objectClass=person)(|(cn=*)(telephoneNumber=*)))",
		"(|(telephoneNumber=22334455)(mobile=+4791234567))",
		"(!(sn<=ø))", "(cn~=åsen)", "(cn:dn:2.5.13.2:=x)", "(telephoneNumber=*+47*00*)",
	} {
		f.Add(s)
	}
	d := newFakeDir()
	f.Fuzz(func(t *testing.T, s string) {
		p, err := goldap.CompileFilter(s)
		if err != nil {
			return
		}
		flt, err := parseFilter(p)
		if err != nil {
			return
		}
		for i := range d.entries[fjordvik] {
			flt.match(&node{kind: nodeEntry, tenant: "fjordvik", e: &d.entries[fjordvik][i]})
		}
		flt.match(&node{kind: nodeRoot, tenant: "fjordvik"})
	})
}

// FuzzDN checks the DN parser never panics and that what it accepts, and
// we escape again, parses to the same value.
func FuzzDN(f *testing.F) {
	for _, s := range []string{"cn=phonebook,o=fjordvik", `uid=person-1, ou=phonebook;o="x,y"`, `cn=\C3\98,o=a+b=c`, "cn=#0401"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDN(s)
		if err != nil {
			return
		}
		for _, r := range d {
			for _, a := range r {
				again, err := parseDN("o=" + escapeDNValue(a.val))
				if a.val == "" || a.val[0] == '#' {
					continue
				}
				if err != nil || len(again) != 1 || again[0][0].val != a.val {
					t.Fatalf("escape round trip of %q: %v %v", a.val, again, err)
				}
			}
		}
		bindTenantName(s)
	})
}

// FuzzRequest decodes raw LDAP messages as the session does: no input may
// panic.
func FuzzRequest(f *testing.F) {
	bind := envelope(1, func() *ber.Packet {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appBindRequest, nil, "")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(3), ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "cn=phonebook,o=fjordvik", ""))
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "secret", ""))
		return op
	}())
	f.Add(bind.Bytes())
	f.Add(searchPacket(f, "ou=phonebook,o=fjordvik", "(|(cn=kar*)(telephoneNumber=*4711*))", "cn").Bytes())
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x02, 0x42, 0x00}) // unbind
	d := newFakeDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ber.DecodePacketErr(b)
		if err != nil {
			return
		}
		m, err := parseMessage(p)
		if err != nil {
			return
		}
		switch m.op.Tag {
		case appBindRequest:
			_, _ = parseBind(m.op)
		case appSearchRequest:
			r, err := parseSearch(m.op)
			if err != nil {
				return
			}
			base, err := parseDN(r.base)
			if err != nil {
				return
			}
			entries := d.entries[fjordvik]
			if n, _, ok := locate(base, "fjordvik", entries); ok {
				for c := range scopeNodes(n, r.scope, entries) {
					if r.filter.match(&c) == triTrue {
						entryOp(c.dn(), c.attributes(selectAttrs(r.attrs)), r.typesOnly)
					}
				}
			}
		case appExtendedRequest:
			extendedName(m.op)
		}
	})
}

// searchPacket encodes a SearchRequest message as a client would.
func searchPacket(tb testing.TB, base, filterText string, attrs ...string) *ber.Packet {
	tb.Helper()
	flt, err := goldap.CompileFilter(filterText)
	if err != nil {
		tb.Fatal(err)
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appSearchRequest, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(scopeSub), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(0), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(10), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
	op.AppendChild(flt)
	list := ber.NewSequence("")
	for _, a := range attrs {
		list.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, ""))
	}
	op.AppendChild(list)
	return envelope(2, op)
}
