// Package phones serves desk phones their configuration files over HTTP(S):
// one file per phone, found by the MAC address in the requested file name,
// rendered from an embedded template for the phone's vendor (Yealink, Snom,
// or a generic key=value file), and handed out only to the phone itself,
// which proves it with HTTP digest authentication (RFC 7616) using its own
// AuthUser and Secret, the same credentials it registers its lines with.
// PhonebookAuth puts the desk phones' phone book (directory/httpapi) behind
// the same check.
//
// The package reads devices through a small Source interface (StoreSource
// adapts a store.Store) and holds no state of its own beyond a nonce key:
// nonces are stateless (HMAC-tagged timestamps), so any number of handlers
// sharing Options.NonceKey accept each other's challenges.
package phones

import (
	"context"
	"strings"
)

// Vendor names a configuration file format and the phones that read it.
type Vendor string

// Vendors with a template. Generic is served to every device whatever its
// model: a plain key=value file for scripts and for phones we have no
// template for.
const (
	VendorYealink Vendor = "yealink"
	VendorSnom    Vendor = "snom"
	VendorGeneric Vendor = "generic"
)

// VendorOf maps a device's free-text model, as admins type it ("Yealink
// T54W", "yealink-t54w", "SIP-T46S", "snom D785", "D735"), to the vendor
// whose file format it reads. Case, spaces, hyphens and underscores are
// ignored. Models starting with "yealink", "sipt" + digit, "t" + two digits
// or "cp9" are Yealink; "snom" or "d" + three digits are Snom; anything
// else is Generic (only the .txt file is served for it).
func VendorOf(model string) Vendor {
	m := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\t':
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, model)
	digits := func(s string, n int) bool {
		if len(s) < n {
			return false
		}
		for i := range n {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case strings.HasPrefix(m, "yealink"),
		strings.HasPrefix(m, "sipt") && digits(m[4:], 1),
		strings.HasPrefix(m, "t") && digits(m[1:], 2),
		strings.HasPrefix(m, "cp9"):
		return VendorYealink
	case strings.HasPrefix(m, "snom"),
		strings.HasPrefix(m, "d") && digits(m[1:], 3):
		return VendorSnom
	}
	return VendorGeneric
}

// Line is one line key of a phone: the extension it registers and shows.
type Line struct {
	Key         int    // 1-based line key (account/identity index on the phone)
	Number      string // extension number: the SIP user name of the line
	DisplayName string // caller name shown to the called party
	Enabled     bool   // false: the line is written but left unregistered
}

// Device is what a configuration file is made of: the phone, its
// credentials, its tenant and its lines. It is a view assembled by a
// Source, not a stored entity.
type Device struct {
	MAC      string // 12 lower-case hex digits, no separators
	Model    string // free text; VendorOf picks the file format from it
	AuthUser string // digest username for HTTP (this package) and SIP
	Secret   string // digest password, in clear: it is written into the file
	Tenant   string // tenant short name, for the phone book URL
	TenantID int64  // tenant ID: the phone book a phone may read (PhonebookAuth)
	Domain   string // tenant SIP domain: the AOR host and the digest realm
	Lines    []Line // in line key order
}

// Source finds the device a phone asks for. ok is false when no device has
// the MAC; err is for failures to look (the phone gets 500 and retries).
type Source interface {
	DeviceByMAC(ctx context.Context, mac string) (d Device, ok bool, err error)
}
