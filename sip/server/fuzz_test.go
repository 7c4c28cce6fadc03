package server

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
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

// recordingConn is a PacketConn that keeps what is written to it.
type recordingConn struct {
	net.PacketConn
	out [][]byte
}

func (c *recordingConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.out = append(c.out, bytes.Clone(b))
	return len(b), nil
}

// FuzzStateless feeds arbitrary datagrams through the stateless UDP path
// (method sniffing, parsing, validation, the kept answers): it never
// panics, and whatever it sends is a SIP response.
func FuzzStateless(f *testing.F) {
	f.Add([]byte(register("UDP", "127.0.0.1:5062", "f1")))
	f.Add([]byte("REGISTER sip:x SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n"))
	f.Add([]byte("REGISTER \r\n\r\n"))
	f.Add([]byte("REGISTER sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: x REGISTER\r\n\r\n"))
	s, err := New(Options{Listen: []Listener{{"udp", "127.0.0.1:0"}}, Log: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	s.HandleStateless(sip.REGISTER, func(req *sip.Request) *sip.Response {
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	})
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	f.Fuzz(func(t *testing.T, data []byte) {
		pc := &recordingConn{}
		s.serveStateless(statelessJob{data: data, src: src, pc: pc})
		for _, out := range pc.out {
			m, err := sip.NewParser().ParseSIP(out)
			if err != nil {
				t.Fatalf("sent unparseable bytes %q for %q: %v", out, data, err)
			}
			if _, ok := m.(*sip.Response); !ok {
				t.Fatalf("sent a request: %q", out)
			}
		}
	})
}
