package server

import (
	"strings"
	"testing"
)

// FuzzParseListen: any spec is either refused or yields listeners whose
// rendering parses back to the same thing.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{"udp:0.0.0.0:5060,tcp:0.0.0.0:5060", "tls:127.0.0.1:5061,ws:127.0.0.1:8088", "wss:[::1]:443", "udp:", ":::", "udp:1.2.3.4:99999,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ls, err := ParseListen(spec)
		if err != nil {
			return
		}
		parts := make([]string, len(ls))
		for i, l := range ls {
			parts[i] = l.String()
		}
		again, err := ParseListen(strings.Join(parts, ","))
		if err != nil || len(again) != len(ls) {
			t.Fatalf("round trip of %q: %v %v", spec, again, err)
		}
	})
}
