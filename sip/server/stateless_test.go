package server

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/test/testrun"
)

// banList refuses the addresses it holds.
type banList struct {
	mu  sync.Mutex
	ban map[netip.Addr]bool
}

func (b *banList) Allow(ip netip.Addr) (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ban[ip] {
		return false, "banned"
	}
	return true, ""
}

func register(transport, local, branch string) string {
	return "REGISTER sip:fjordvik.test SIP/2.0\r\n" +
		"Via: SIP/2.0/" + transport + " " + local + ";branch=z9hG4bK-" + branch + ";rport\r\n" +
		"From: <sip:100@fjordvik.test>;tag=r1\r\nTo: <sip:100@fjordvik.test>\r\nCall-ID: " + branch + "\r\n" +
		"CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

// TestStatelessUDP: REGISTER over UDP reaches the stateless handler and
// is answered to its source; a retransmission within the window gets the
// same bytes without the handler running again; over TCP, and for other
// methods, the transaction handlers run; banned sources get nothing, and
// neither do requests too malformed to answer (no Via).
func TestStatelessUDP(t *testing.T) {
	guard := &banList{ban: map[netip.Addr]bool{}}
	s, err := New(Options{Listen: []Listener{{"udp", "127.0.0.1:0"}, {"tcp", "127.0.0.1:0"}}, Guard: guard,
		Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(path string) {
		mu.Lock()
		calls[path]++
		mu.Unlock()
	}
	s.Handle(sip.REGISTER, func(req *sip.Request, tx sip.ServerTransaction) {
		count("tx " + req.Transport())
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "Transaction", nil))
	})
	s.HandleStateless(sip.REGISTER, func(req *sip.Request) *sip.Response {
		count("stateless " + req.Transport())
		if req.CallID().Value() == "boom" {
			panic("handler bug")
		}
		return sip.NewResponseFromRequest(req, 200, "Stateless", nil)
	})
	testrun.Start(t, s.Serve)

	conn, err := net.Dial("udp", s.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	wait := 3 * time.Second // for answers; a drop is proven by a shorter silence
	answer := func(msg string) string {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	status := func(msg string) string {
		t.Helper()
		return strings.SplitN(answer(msg), "\r\n", 2)[0]
	}
	msg := register("UDP", local, "s1")
	first := answer(msg)
	if !strings.HasPrefix(first, "SIP/2.0 200 Stateless\r\n") || !strings.Contains(first, "received=127.0.0.1") {
		t.Fatalf("REGISTER over UDP: %q", first)
	}
	for i := range 2 {
		if got := answer(msg); got != first {
			t.Fatalf("retransmission %d answered differently:\n%q\n%q", i+1, got, first)
		}
	}
	if got := status(strings.Replace(register("UDP", local, "s2"), "Call-ID: s2", "Call-ID: boom", 1)); got != "SIP/2.0 500 Server Internal Error" {
		t.Errorf("panicking handler: %q, want 500", got)
	}
	noVia := strings.Replace(register("UDP", local, "s3"), "Via: SIP/2.0/UDP "+local+";branch=z9hG4bK-s3;rport\r\n", "", 1)
	wait = 500 * time.Millisecond
	got := status(noVia)
	wait = 3 * time.Second
	if got != "" {
		t.Errorf("REGISTER without Via: %q, want it dropped", got)
	}
	opt := strings.ReplaceAll(register("UDP", local, "o1"), "REGISTER", "OPTIONS")
	if got := status(opt); got != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS over UDP: %q, want the transaction path's 200 OK", got)
	}

	tcp, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	_ = tcp.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := tcp.Write([]byte(register("TCP", tcp.LocalAddr().String(), "t1"))); err != nil {
		t.Fatal(err)
	}
	if got := readStatus(t, bufio.NewReader(tcp)); got != "SIP/2.0 200 Transaction" {
		t.Errorf("REGISTER over TCP: %q", got)
	}

	guard.mu.Lock()
	guard.ban[netip.MustParseAddr("127.0.0.1")] = true
	guard.mu.Unlock()
	wait = 500 * time.Millisecond
	if got := status(register("UDP", local, "s4")); got != "" {
		t.Errorf("banned source answered: %q", got)
	}

	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"stateless UDP": 2, "tx TCP": 1}
	for k, v := range want {
		if calls[k] != v {
			t.Errorf("%s: %d calls, want %d (all: %v)", k, calls[k], v, calls)
		}
	}
	if len(calls) != len(want) {
		t.Errorf("calls %v, want %v", calls, want)
	}
}

// TestRecentAnswers: answers are found for one to two windows, then gone.
func TestRecentAnswers(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var r recentAnswers
	r.init(4*time.Second, func() time.Time { return now })
	get := func(key string) string {
		t.Helper()
		b, busy := r.claim(key)
		if busy {
			t.Fatalf("%s: busy", key)
		}
		return string(b)
	}
	if b, busy := r.claim("a"); b != nil || busy {
		t.Fatal("unknown key not claimable")
	}
	if b, busy := r.claim("a"); b != nil || !busy {
		t.Fatal("a copy of a request being decided is not reported busy")
	}
	r.put("a", []byte("A"))
	now = now.Add(3 * time.Second)
	r.claim("b")
	r.put("b", []byte("B"))
	if get("a") != "A" || get("b") != "B" {
		t.Fatal("answers lost within the first window")
	}
	now = now.Add(2 * time.Second) // 5 s: a new generation; a and b in the old one
	if get("a") != "A" || get("b") != "B" {
		t.Fatal("answers lost one window on")
	}
	now = now.Add(4 * time.Second) // 9 s: a and b are two generations old
	if get("a") != "" || get("b") != "" {
		t.Fatal("answers kept beyond two windows")
	}
	r.put("c", []byte("C"))
	now = now.Add(9 * time.Second) // a long quiet spell drops everything at once
	if get("c") != "" {
		t.Fatal("answer kept after a long quiet spell")
	}
}
