package server

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/test/testrun"
)

// TestRequests: every request that reaches dispatch is counted by method,
// on the transaction path (OPTIONS, an unregistered method under
// "other"), and on the UDP stateless path (REGISTER).
func TestRequests(t *testing.T) {
	s, err := New(Options{Listen: []Listener{{"udp", "127.0.0.1:0"}, {"tcp", "127.0.0.1:0"}}, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle(sip.REGISTER, func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	s.HandleStateless(sip.REGISTER, func(req *sip.Request) *sip.Response {
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	})
	for m, n := range s.Requests() {
		if n != 0 {
			t.Errorf("Requests()[%s] = %d before any request", m, n)
		}
	}
	testrun.Start(t, s.Serve)

	tcp, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	_ = tcp.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(tcp)
	local := tcp.LocalAddr().String()
	for i, msg := range []string{options(local, "q1"), options(local, "q2"),
		strings.ReplaceAll(options(local, "q3"), "OPTIONS", "FROBNICATE")} {
		if _, err := tcp.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if st := readStatus(t, r); !strings.HasPrefix(st, "SIP/2.0 ") {
			t.Fatalf("request %d: %q", i, st)
		}
	}
	udp, err := net.Dial("udp", s.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if _, err := udp.Write([]byte(register("UDP", udp.LocalAddr().String(), "q4"))); err != nil {
		t.Fatal(err)
	}
	_ = udp.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := udp.Read(make([]byte, 4096)); err != nil {
		t.Fatalf("REGISTER over UDP: %v", err)
	}

	got := s.Requests()
	want := map[string]uint64{"OPTIONS": 2, "other": 1, "REGISTER": 1, "INVITE": 0}
	for m, n := range want {
		if v, ok := got[m]; !ok || v != n {
			t.Errorf("Requests()[%s] = %d (present %v), want %d", m, v, ok, n)
		}
	}
	if len(got) != len(countedMethods)+1 {
		t.Errorf("Requests() has %d methods, want %d", len(got), len(countedMethods)+1)
	}
}
