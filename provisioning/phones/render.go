package phones

import (
	"bytes"
	"embed"
	"encoding/xml"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are parsed once; a broken embedded template is a build
// defect, so it panics at start-up rather than on a phone's request.
var templates = map[Vendor]*template.Template{
	VendorYealink: template.Must(template.ParseFS(templateFS, "templates/yealink.cfg.tmpl")),
	VendorSnom:    template.Must(template.ParseFS(templateFS, "templates/snom.xml.tmpl")),
	VendorGeneric: template.Must(template.ParseFS(templateFS, "templates/generic.txt.tmpl")),
}

// contentTypes are sent with each format.
var contentTypes = map[Vendor]string{
	VendorYealink: "text/plain; charset=utf-8",
	VendorSnom:    "application/xml; charset=utf-8",
	VendorGeneric: "text/plain; charset=utf-8",
}

// Accounts (Yealink) and identities (Snom) beyond the device's lines, up to
// these counts, are switched off, so that a line removed in Sentral stops
// registering instead of lingering on the phone. 16 is the most accounts of
// Yealink's T4x/T5x desk phones, 12 the most identities of Snom's D7xx;
// phones with fewer ignore the extra indices.
const (
	yealinkAccounts = 16
	snomIdentities  = 12
)

// zone is how one IANA time zone is written for each vendor.
type zone struct {
	YealinkOffset string // local_time.time_zone: standard offset from UTC in hours
	YealinkName   string // local_time.time_zone_name: picks the DST rule (summer_time = 2, automatic)
	Snom          string // timezone: country code and standard offset; DST follows the country
}

// zones are the time zones we know how to write. Add a row for another
// zone after checking the name against the vendors' lists (Yealink's
// AutoDST table, Snom's timezone setting); an unknown zone is refused at
// start rather than written as something the phone silently ignores.
var zones = map[string]zone{
	"Europe/Oslo": {YealinkOffset: "+1", YealinkName: "Norway(Oslo)", Snom: "NOR+1"},
}

// DefaultTimeZone is used when Options.TimeZone is empty.
const DefaultTimeZone = "Europe/Oslo"

// yealinkTransport is account.N.sip_server.1.transport_type.
var yealinkTransport = map[string]int{"udp": 0, "tcp": 1, "tls": 2}

// view is the data a template sees. Every string in it has been escaped
// for the file format by the caller (newView), so templates print fields
// as they are and cannot forget to escape one.
type view struct {
	MAC, MACColons, Model, Vendor string
	AuthUser, Secret, Domain      string
	Server                        string // outbound proxy host; "" when the phones resolve Domain
	Outbound                      string // Snom user_outbound: host:port;transport=...
	Port                          int
	Transport                     string
	YealinkTransport              int
	TimeZone                      string
	Zone                          zone
	PhonebookURL, PhonebookName   string
	Lines                         []viewLine
	Unused                        []int
}

type viewLine struct {
	Key                 int
	Number, DisplayName string
	Enabled             bool
}

// render writes a device's file in format f.
func (h *Handler) render(d Device, f Vendor) ([]byte, error) {
	esc := oneLine
	maxKeys := 0
	switch f {
	case VendorSnom:
		esc, maxKeys = xmlText, snomIdentities
	case VendorYealink:
		maxKeys = yealinkAccounts
	}
	o := h.opts
	host := o.SIPServer
	if host == "" {
		host = d.Domain
	}
	pb := phonebookURL(o.PhonebookURL, d, f)
	if f == VendorSnom {
		// Snom has no credential settings for an XML directory: the phone
		// answers the phone book's digest challenge only with credentials
		// in the URL. Yealink (remote_phonebook.data.1.username and
		// .password, in the template) and the generic file (auth_user,
		// password) carry them as settings of their own, which keeps the
		// secret out of a URL the phone shows and logs.
		pb = withCredentials(pb, d.AuthUser, d.Secret)
	}
	v := view{
		MAC:              esc(d.MAC),
		MACColons:        esc(colons(d.MAC)),
		Model:            esc(d.Model),
		Vendor:           esc(string(VendorOf(d.Model))),
		AuthUser:         esc(d.AuthUser),
		Secret:           esc(d.Secret),
		Domain:           esc(d.Domain),
		Server:           esc(o.SIPServer),
		Outbound:         esc(net.JoinHostPort(host, strconv.Itoa(o.SIPPort)) + ";transport=" + o.Transport),
		Port:             o.SIPPort,
		Transport:        esc(o.Transport),
		YealinkTransport: yealinkTransport[o.Transport],
		TimeZone:         esc(o.TimeZone),
		Zone:             zone{esc(h.zone.YealinkOffset), esc(h.zone.YealinkName), esc(h.zone.Snom)},
		PhonebookURL:     esc(pb),
		PhonebookName:    esc(o.PhonebookName),
	}
	used := map[int]bool{}
	for _, l := range d.Lines {
		used[l.Key] = true
		v.Lines = append(v.Lines, viewLine{Key: l.Key, Number: esc(l.Number), DisplayName: esc(l.DisplayName), Enabled: l.Enabled})
	}
	// Keys in order whatever the source's order, so files compare equal
	// from one fetch to the next.
	sort.Slice(v.Lines, func(i, j int) bool { return v.Lines[i].Key < v.Lines[j].Key })
	for k := 1; k <= maxKeys; k++ {
		if !used[k] {
			v.Unused = append(v.Unused, k)
		}
	}
	var b bytes.Buffer
	if err := templates[f].Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render %s file for %s: %w", f, d.MAC, err)
	}
	return b.Bytes(), nil
}

// phonebookURL fills the placeholders of the configured phone book URL.
// Values are path-escaped: a tenant name is a slug, but the URL must stay
// one URL whatever an admin typed.
func phonebookURL(tmpl string, d Device, f Vendor) string {
	if tmpl == "" {
		return ""
	}
	return strings.NewReplacer(
		"{tenant}", url.PathEscape(d.Tenant),
		"{domain}", url.PathEscape(d.Domain),
		"{vendor}", url.PathEscape(string(f)),
		"{mac}", url.PathEscape(d.MAC),
	).Replace(tmpl)
}

// oneLine makes s safe as the value of a key = value line: invalid UTF-8
// and every control or line-breaking character become a space (a newline
// in a display name would otherwise start a new setting of the admin's
// choosing), and surrounding space is trimmed, which phones drop anyway.
func oneLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// xmlText makes s safe as XML character data: oneLine first (XML 1.0
// cannot carry most control characters even as references), then the five
// markup characters escaped.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(oneLine(s)))
	return b.String()
}

// colons writes a 12-digit MAC as 00:15:65:aa:bb:cc for people reading the
// file.
func colons(mac string) string {
	if len(mac) != 12 {
		return mac
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(mac[i : i+2])
	}
	return b.String()
}
