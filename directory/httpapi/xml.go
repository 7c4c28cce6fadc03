package httpapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/directory/search"
)

// Vendor names a phone book XML format.
type Vendor string

// Vendors with a phone book format; the URL's file name is the vendor
// followed by ".xml".
const (
	VendorYealink Vendor = "yealink"
	VendorSnom    Vendor = "snom"
)

// Texts shown on the phones. Norwegian, like the people reading them.
const (
	snomTitle  = "Telefonkatalog"
	snomPrompt = "Prompt"
	labelExt   = "Internt"
	labelDID   = "Direkte"
	labelMob   = "Mobil"
)

// number is one dialable number of an entry and what kind it is.
type number struct {
	dial  string
	label string
}

// dialNumbers returns the numbers of e as a desk phone dials them, in the
// entry's order (extensions, then public numbers, then the mobile), each
// once. Extensions and E.164 numbers are dialled as they are; only the
// punctuation people write numbers with is removed, because Snom phones
// turn a space inside the number into %20 in the SIP URI.
func dialNumbers(e search.Entry) []number {
	out := make([]number, 0, len(e.Numbers)+1)
	seen := make(map[string]bool, len(e.Numbers)+1)
	mobile := dialString(e.Mobile)
	add := func(n string) {
		d := dialString(n)
		if d == "" || seen[d] {
			return
		}
		seen[d] = true
		label := labelExt
		switch {
		case d == mobile:
			label = labelMob
		case strings.HasPrefix(d, "+"):
			label = labelDID
		}
		out = append(out, number{dial: d, label: label})
	}
	for _, n := range e.Numbers {
		add(n)
	}
	add(e.Mobile) // in Numbers already, by search.Entry's contract; but be sure
	return out
}

// dialString removes spaces and the punctuation " -()./" from n.
func dialString(n string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '(', ')', '.', '/', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(n))
}

// yealinkDirectory is a Yealink remote phone book.
type yealinkDirectory struct {
	XMLName xml.Name       `xml:"YealinkIPPhoneDirectory"`
	Entries []yealinkEntry `xml:"DirectoryEntry"`
}

type yealinkEntry struct {
	Name      string          `xml:"Name"`
	Telephone []yealinkNumber `xml:"Telephone"`
}

type yealinkNumber struct {
	Label  string `xml:"label,attr,omitempty"`
	Number string `xml:",chardata"`
}

// snomDirectory is a Snom XML minibrowser directory.
type snomDirectory struct {
	XMLName xml.Name    `xml:"SnomIPPhoneDirectory"`
	Title   string      `xml:"Title"`
	Prompt  string      `xml:"Prompt"`
	Entries []snomEntry `xml:"DirectoryEntry"`
}

type snomEntry struct {
	Name      string `xml:"Name"`
	Telephone string `xml:"Telephone"`
}

// renderYealink writes one DirectoryEntry per entry with every number as a
// labelled Telephone element.
func renderYealink(entries []search.Entry) ([]byte, error) {
	d := yealinkDirectory{Entries: make([]yealinkEntry, 0, len(entries))}
	for _, e := range entries {
		nums := dialNumbers(e)
		if len(nums) == 0 {
			continue // nothing to dial
		}
		ye := yealinkEntry{Name: e.Name, Telephone: make([]yealinkNumber, len(nums))}
		for i, n := range nums {
			ye.Telephone[i] = yealinkNumber{Label: n.label, Number: n.dial}
		}
		d.Entries = append(d.Entries, ye)
	}
	return marshal(d)
}

// renderSnom writes one DirectoryEntry per number: the Snom directory has
// one number per entry. The first number carries the plain name; the others
// say what they are, "Kari Ødegård-Hansen (mobil)". A mobile is always
// marked, even alone, so nobody rings a mobile thinking it is a desk.
func renderSnom(entries []search.Entry) ([]byte, error) {
	d := snomDirectory{Title: snomTitle, Prompt: snomPrompt, Entries: make([]snomEntry, 0, len(entries))}
	for _, e := range entries {
		for i, n := range dialNumbers(e) {
			name := e.Name
			if n.label == labelMob || i > 0 {
				name += " (" + strings.ToLower(n.label) + ")"
			}
			d.Entries = append(d.Entries, snomEntry{Name: name, Telephone: n.dial})
		}
	}
	return marshal(d)
}

// marshal writes v as an indented UTF-8 document with the XML declaration.
// encoding/xml escapes &, <, >, quotes and replaces characters XML cannot
// carry; numbers stay on the line of their element, since Snom phones
// would dial surrounding white space.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode phone book: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
