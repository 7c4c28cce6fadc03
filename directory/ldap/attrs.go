package ldap

import (
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/directory/search"
)

// Canonical attribute names, as they appear in results.
const (
	attrObjectClass     = "objectClass"
	attrUID             = "uid"
	attrCN              = "cn"
	attrSN              = "sn"
	attrGivenName       = "givenName"
	attrDisplayName     = "displayName"
	attrTelephoneNumber = "telephoneNumber"
	attrMobile          = "mobile"
	attrMail            = "mail"
	attrOU              = "ou"
	attrTitle           = "title"
	attrL               = "l"
	attrO               = "o"
	attrNamingContexts  = "namingContexts"
	attrSupportedLDAP   = "supportedLDAPVersion"
	attrSupportedExt    = "supportedExtension"
	attrVendorName      = "vendorName"
)

// attrAlias maps lower-case attribute names, long names and OIDs to the
// canonical name. Names not listed are unknown to the schema: filters on
// them are Undefined (RFC 4511 section 4.5.1.7) and they are never returned.
// Notes are deliberately absent: they are for operators only.
var attrAlias = map[string]string{
	"objectclass": attrObjectClass, "2.5.4.0": attrObjectClass,
	"uid": attrUID, "userid": attrUID, "0.9.2342.19200300.100.1.1": attrUID,
	"cn": attrCN, "commonname": attrCN, "2.5.4.3": attrCN,
	"sn": attrSN, "surname": attrSN, "2.5.4.4": attrSN,
	"givenname": attrGivenName, "gn": attrGivenName, "2.5.4.42": attrGivenName,
	"displayname": attrDisplayName, "2.16.840.1.113730.3.1.241": attrDisplayName,
	"telephonenumber": attrTelephoneNumber, "2.5.4.20": attrTelephoneNumber,
	"mobile": attrMobile, "mobiletelephonenumber": attrMobile, "0.9.2342.19200300.100.1.41": attrMobile,
	"mail": attrMail, "rfc822mailbox": attrMail, "0.9.2342.19200300.100.1.3": attrMail,
	"ou": attrOU, "organizationalunitname": attrOU, "2.5.4.11": attrOU,
	"title": attrTitle, "2.5.4.12": attrTitle,
	"l": attrL, "localityname": attrL, "2.5.4.7": attrL,
	"o": attrO, "organizationname": attrO, "2.5.4.10": attrO,
	"namingcontexts":       attrNamingContexts,
	"supportedldapversion": attrSupportedLDAP,
	"supportedextension":   attrSupportedExt,
	"vendorname":           attrVendorName,
}

// canonicalAttr returns the canonical name of an attribute description,
// options such as ";lang-no" stripped; an unknown name comes back lower case.
func canonicalAttr(desc string) string {
	if i := strings.IndexByte(desc, ';'); i >= 0 {
		desc = desc[:i]
	}
	l := strings.ToLower(desc)
	if c, ok := attrAlias[l]; ok {
		return c
	}
	return l
}

func knownAttr(canonical string) bool {
	_, ok := attrAlias[strings.ToLower(canonical)]
	return ok
}

// isNumberAttr reports whether values of the attribute are telephone
// numbers, matched by digits.
func isNumberAttr(canonical string) bool {
	return canonical == attrTelephoneNumber || canonical == attrMobile
}

// nodeKind is the kind of object in a tenant's tree.
type nodeKind uint8

const (
	nodeRoot  nodeKind = iota // the root DSE, ""
	nodeOrg                   // o=<tenant>
	nodeOU                    // ou=phonebook,o=<tenant>
	nodeEntry                 // uid=<kind>-<id>,ou=phonebook,o=<tenant>
)

// phonebookOU is the RDN value of the phone-book container.
const phonebookOU = "phonebook"

// node is one object a search can return.
type node struct {
	kind   nodeKind
	tenant string        // the tenant's short name as bound
	e      *search.Entry // for nodeEntry
}

var (
	personClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
	orgClasses    = []string{"top", "organization"}
	ouClasses     = []string{"top", "organizationalUnit"}
	rootClasses   = []string{"top"}
)

// attrOrder is the order attributes are returned in.
var attrOrder = []string{
	attrObjectClass, attrO, attrUID, attrCN, attrSN, attrGivenName, attrDisplayName,
	attrTelephoneNumber, attrMobile, attrMail, attrOU, attrTitle, attrL,
	attrNamingContexts, attrSupportedLDAP, attrSupportedExt, attrVendorName,
}

// dn returns the node's DN.
func (n *node) dn() string {
	org := "o=" + escapeDNValue(n.tenant)
	switch n.kind {
	case nodeRoot:
		return ""
	case nodeOrg:
		return org
	case nodeOU:
		return "ou=" + phonebookOU + "," + org
	default:
		return "uid=" + escapeDNValue(entryUID(n.e)) + ",ou=" + phonebookOU + "," + org
	}
}

// entryUID is the uid of an entry: "<kind>-<id>", e.g. "person-12".
func entryUID(e *search.Entry) string {
	return e.Kind + "-" + strconv.FormatInt(e.ID, 10)
}

// entryName is the display name, built from the parts when empty (as
// search.NewIndex does).
func entryName(e *search.Entry) string {
	if s := strings.TrimSpace(e.Name); s != "" {
		return s
	}
	return strings.TrimSpace(e.GivenName + " " + e.FamilyName)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// values returns the values of a canonical attribute on n; nil when n has
// none.
func (n *node) values(attr string) []string {
	switch n.kind {
	case nodeRoot:
		switch attr {
		case attrObjectClass:
			return rootClasses
		case attrNamingContexts:
			return []string{(&node{kind: nodeOrg, tenant: n.tenant}).dn()}
		case attrSupportedLDAP:
			return []string{"3"}
		case attrSupportedExt:
			return []string{oidStartTLS}
		case attrVendorName:
			return []string{"Sentral"}
		}
	case nodeOrg:
		switch attr {
		case attrObjectClass:
			return orgClasses
		case attrO:
			return []string{n.tenant}
		}
	case nodeOU:
		switch attr {
		case attrObjectClass:
			return ouClasses
		case attrOU:
			return []string{phonebookOU}
		}
	case nodeEntry:
		return entryValues(n.e, attr)
	}
	return nil
}

func entryValues(e *search.Entry, attr string) []string {
	switch attr {
	case attrObjectClass:
		return personClasses
	case attrUID:
		return []string{entryUID(e)}
	case attrCN, attrDisplayName:
		return nonEmpty(entryName(e))
	case attrSN:
		if e.FamilyName != "" {
			return []string{e.FamilyName}
		}
		return nonEmpty(entryName(e))
	case attrGivenName:
		return nonEmpty(e.GivenName)
	case attrTelephoneNumber:
		var out []string
		for _, num := range e.Numbers {
			if num != "" && num != e.Mobile {
				out = append(out, num)
			}
		}
		return out
	case attrMobile:
		return nonEmpty(e.Mobile)
	case attrMail:
		return nonEmpty(e.Email)
	case attrOU:
		return nonEmpty(e.Department)
	case attrTitle:
		return nonEmpty(e.Title)
	case attrL:
		return nonEmpty(e.Site)
	}
	return nil
}

// selection is the set of attributes a search asked for.
type selection struct {
	all  bool
	want map[string]bool // canonical names
}

// selectAttrs interprets the requested attribute list: empty or "*" means
// all user attributes, "1.1" none, "+" (operational) adds nothing here.
func selectAttrs(requested []string) selection {
	if len(requested) == 0 {
		return selection{all: true}
	}
	sel := selection{want: map[string]bool{}}
	for _, r := range requested {
		switch r {
		case "*":
			sel.all = true
		case "1.1", "+":
		default:
			sel.want[canonicalAttr(r)] = true
		}
	}
	return sel
}

// attributes returns n's attributes that sel asks for, in attrOrder.
func (n *node) attributes(sel selection) []attribute {
	var out []attribute
	for _, a := range attrOrder {
		if !sel.all && !sel.want[a] {
			continue
		}
		if v := n.values(a); len(v) > 0 {
			out = append(out, attribute{name: a, values: v})
		}
	}
	return out
}
