package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/sentralpbx/sentral/sip/server"
)

// Validate checks the SIP settings; the listen spec is parsed here so a
// typo is reported before anything starts.
func (c SIPConfig) Validate() error {
	if c.Listen != "" {
		if _, err := server.ParseListen(c.Listen); err != nil {
			return fmt.Errorf("sip.listen: %w", err)
		}
	}
	if c.MaxMessageBytes < 1024 || c.MaxMessageBytes > 1<<20 {
		return fmt.Errorf("sip.max_message_bytes %d: use 1024 to 1048576", c.MaxMessageBytes)
	}
	r := c.Registrar
	if r.MinExpires < 1 || r.MaxExpires < r.MinExpires || r.DefaultExpires < r.MinExpires || r.DefaultExpires > r.MaxExpires {
		return fmt.Errorf("sip.registrar: want 1 <= min_expires (%d) <= default_expires (%d) <= max_expires (%d)",
			r.MinExpires, r.DefaultExpires, r.MaxExpires)
	}
	if _, err := r.Algorithms(); err != nil {
		return err
	}
	g := c.Guard
	if g.MaxFailures < 1 || g.Window <= 0 || g.BanFor <= 0 || g.Rate < 1 || g.Burst < 1 {
		return fmt.Errorf("sip.guard: max_failures, window, ban_for, rate and burst must all be above 0")
	}
	if _, err := c.Guard.ExemptPrefixes(); err != nil {
		return err
	}
	return nil
}

// ExemptPrefixes parses sip.guard.exempt.
func (g SIPGuardConfig) ExemptPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(g.Exempt, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("sip.guard.exempt %q: want CIDR prefixes such as 192.0.2.0/24: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Algorithms parses sip.registrar.digest_algorithms.
func (r SIPRegistrarConfig) Algorithms() ([]string, error) {
	var out []string
	for _, a := range strings.Split(r.DigestAlgorithms, ",") {
		switch a = strings.ToUpper(strings.TrimSpace(a)); a {
		case "":
		case "MD5", "SHA-256":
			out = append(out, a)
		default:
			return nil, fmt.Errorf("sip.registrar.digest_algorithms: %q: use SHA-256 and/or MD5", a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sip.registrar.digest_algorithms is empty: use SHA-256,MD5")
	}
	return out, nil
}
