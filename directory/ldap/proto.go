package ldap

import (
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// LDAP result codes used by the server (RFC 4511, appendix A).
const (
	resultSuccess                  = 0
	resultProtocolError            = 2
	resultSizeLimitExceeded        = 4
	resultAuthMethodNotSupported   = 7
	resultUnavailableCriticalExt   = 12
	resultNoSuchObject             = 32
	resultInvalidDNSyntax          = 34
	resultInvalidCredentials       = 49
	resultInsufficientAccessRights = 50
	resultUnwillingToPerform       = 53
	resultOther                    = 80
)

// Protocol operation tags (application class, RFC 4511 section 4.2 to 4.14).
const (
	appBindRequest       ber.Tag = 0
	appBindResponse      ber.Tag = 1
	appUnbindRequest     ber.Tag = 2
	appSearchRequest     ber.Tag = 3
	appSearchResultEntry ber.Tag = 4
	appSearchResultDone  ber.Tag = 5
	appModifyRequest     ber.Tag = 6
	appAddRequest        ber.Tag = 8
	appDelRequest        ber.Tag = 10
	appModifyDNRequest   ber.Tag = 12
	appCompareRequest    ber.Tag = 14
	appAbandonRequest    ber.Tag = 16
	appExtendedRequest   ber.Tag = 23
	appExtendedResponse  ber.Tag = 24
)

// oidStartTLS is the StartTLS extended operation (RFC 4511 section 4.14).
const oidStartTLS = "1.3.6.1.4.1.1466.20037"

var errMalformed = errors.New("malformed LDAP message")

// message is one decoded LDAPMessage envelope.
type message struct {
	id       int64
	op       *ber.Packet
	critical string // OID of the first critical control, "" for none
}

// parseMessage checks the LDAPMessage envelope. Controls are ignored unless
// critical: a critical control we do not implement must fail the operation.
func parseMessage(p *ber.Packet) (message, error) {
	if p == nil || p.ClassType != ber.ClassUniversal || p.TagType != ber.TypeConstructed ||
		p.Tag != ber.TagSequence || len(p.Children) < 2 {
		return message{}, fmt.Errorf("envelope: %w", errMalformed)
	}
	id, err := intValue(p.Children[0], ber.ClassUniversal, ber.TagInteger)
	if err != nil || id < 0 || id > 1<<31-1 {
		return message{}, fmt.Errorf("message id: %w", errMalformed)
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication {
		return message{}, fmt.Errorf("protocol op: %w", errMalformed)
	}
	m := message{id: id, op: op}
	if len(p.Children) > 2 {
		m.critical = criticalControl(p.Children[2])
	}
	return m, nil
}

// criticalControl returns the type of the first control marked critical.
func criticalControl(controls *ber.Packet) string {
	for _, c := range controls.Children {
		if len(c.Children) < 2 {
			continue
		}
		crit := c.Children[1]
		if crit.ClassType == ber.ClassUniversal && crit.Tag == ber.TagBoolean {
			if b := crit.Data.Bytes(); len(b) == 1 && b[0] != 0 {
				if oid := c.Children[0].Data.String(); oid != "" {
					return oid
				}
				return "unnamed"
			}
		}
	}
	return ""
}

// intValue reads a primitive INTEGER or ENUMERATED of the given class and tag.
func intValue(p *ber.Packet, class ber.Class, tag ber.Tag) (int64, error) {
	if p == nil || p.ClassType != class || p.TagType != ber.TypePrimitive || p.Tag != tag {
		return 0, errMalformed
	}
	b := p.Data.Bytes()
	if len(b) == 0 {
		return 0, errMalformed
	}
	v, err := ber.ParseInt64(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return v, nil
}

// octetString reads a primitive OCTET STRING (universal class).
func octetString(p *ber.Packet) (string, error) {
	if p == nil || p.ClassType != ber.ClassUniversal || p.TagType != ber.TypePrimitive || p.Tag != ber.TagOctetString {
		return "", errMalformed
	}
	return p.Data.String(), nil
}

// bindRequest is a decoded BindRequest.
type bindRequest struct {
	version  int64
	name     string
	simple   bool // false: SASL or another method we do not offer
	password string
}

func parseBind(op *ber.Packet) (bindRequest, error) {
	if len(op.Children) < 3 {
		return bindRequest{}, fmt.Errorf("bind: %w", errMalformed)
	}
	var r bindRequest
	var err error
	if r.version, err = intValue(op.Children[0], ber.ClassUniversal, ber.TagInteger); err != nil {
		return r, fmt.Errorf("bind version: %w", err)
	}
	if r.name, err = octetString(op.Children[1]); err != nil {
		return r, fmt.Errorf("bind name: %w", err)
	}
	auth := op.Children[2]
	if auth.ClassType != ber.ClassContext {
		return r, fmt.Errorf("bind authentication: %w", errMalformed)
	}
	if auth.Tag == 0 && auth.TagType == ber.TypePrimitive {
		r.simple = true
		r.password = auth.Data.String()
	}
	return r, nil
}

// searchRequest is a decoded SearchRequest.
type searchRequest struct {
	base      string
	scope     int64
	sizeLimit int64
	typesOnly bool
	filter    *filter
	attrs     []string
}

// Search scopes.
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

func parseSearch(op *ber.Packet) (searchRequest, error) {
	var r searchRequest
	if len(op.Children) < 8 {
		return r, fmt.Errorf("search: %w", errMalformed)
	}
	c := op.Children
	var err error
	if r.base, err = octetString(c[0]); err != nil {
		return r, fmt.Errorf("search base: %w", err)
	}
	if r.scope, err = intValue(c[1], ber.ClassUniversal, ber.TagEnumerated); err != nil || r.scope < scopeBase || r.scope > scopeSub {
		return r, fmt.Errorf("search scope: %w", errMalformed)
	}
	if _, err = intValue(c[2], ber.ClassUniversal, ber.TagEnumerated); err != nil {
		return r, fmt.Errorf("search derefAliases: %w", err)
	}
	if r.sizeLimit, err = intValue(c[3], ber.ClassUniversal, ber.TagInteger); err != nil || r.sizeLimit < 0 {
		return r, fmt.Errorf("search sizeLimit: %w", errMalformed)
	}
	if _, err = intValue(c[4], ber.ClassUniversal, ber.TagInteger); err != nil {
		return r, fmt.Errorf("search timeLimit: %w", err)
	}
	if c[5].ClassType != ber.ClassUniversal || c[5].Tag != ber.TagBoolean || c[5].Data.Len() != 1 {
		return r, fmt.Errorf("search typesOnly: %w", errMalformed)
	}
	r.typesOnly = c[5].Data.Bytes()[0] != 0
	if r.filter, err = parseFilter(c[6]); err != nil {
		return r, fmt.Errorf("search filter: %w", err)
	}
	for _, a := range c[7].Children {
		s, err := octetString(a)
		if err != nil {
			return r, fmt.Errorf("search attributes: %w", err)
		}
		r.attrs = append(r.attrs, s)
	}
	return r, nil
}

// extendedName returns the requestName of an ExtendedRequest.
func extendedName(op *ber.Packet) string {
	if len(op.Children) == 0 || op.Children[0].ClassType != ber.ClassContext || op.Children[0].Tag != 0 {
		return ""
	}
	return op.Children[0].Data.String()
}

// envelope wraps a protocol op in an LDAPMessage.
func envelope(id int64, op *ber.Packet) *ber.Packet {
	p := ber.NewSequence("LDAPMessage")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "messageID"))
	p.AppendChild(op)
	return p
}

// resultOp builds an LDAPResult-shaped response (BindResponse,
// SearchResultDone, ModifyResponse, ...).
func resultOp(tag ber.Tag, code int, matchedDN, diag string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "LDAPResult")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matchedDN, "matchedDN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	return op
}

// attribute is one attribute of a search result entry.
type attribute struct {
	name   string
	values []string
}

// entryOp builds a SearchResultEntry. With typesOnly the value sets are
// empty, as RFC 4511 section 4.5.1.8 asks.
func entryOp(dn string, attrs []attribute, typesOnly bool) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appSearchResultEntry, nil, "SearchResultEntry")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "objectName"))
	list := ber.NewSequence("attributes")
	for _, a := range attrs {
		pa := ber.NewSequence("PartialAttribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, "type"))
		vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		if !typesOnly {
			for _, v := range a.values {
				vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "value"))
			}
		}
		pa.AppendChild(vals)
		list.AppendChild(pa)
	}
	op.AppendChild(list)
	return op
}

// extendedResult builds an ExtendedResponse, with responseName [10] when
// name is set.
func extendedResult(code int, diag, name string) *ber.Packet {
	op := resultOp(appExtendedResponse, code, "", diag)
	if name != "" {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, name, "responseName"))
	}
	return op
}
