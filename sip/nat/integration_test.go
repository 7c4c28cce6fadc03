package nat

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/sip/location"
	"github.com/sentralpbx/sentral/store"
)

// udpUA runs a sipgo user agent serving UDP on bind with the given
// handlers until the test ends, and returns it with its bound address.
func udpUA(t *testing.T, bind string, handlers map[sip.RequestMethod]sipgo.RequestHandler) (*sipgo.UserAgent, string) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	for m, h := range handlers {
		srv.OnRequest(m, h)
	}
	pc, err := net.ListenPacket("udp", bind)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.ServeUDP(pc) })
	t.Cleanup(func() {
		_ = pc.Close()
		_ = ua.Close()
		wg.Wait()
	})
	return ua, pc.LocalAddr().String()
}

// deadAddr returns a UDP address on 127.0.0.1 where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// TestKeeperWithSipgo runs the Keeper over real sipgo stacks on loopback:
// a phone that answers OPTIONS (with 405, to show any response counts)
// keeps its binding and receives every ping from the server's listener
// socket; a binding whose source has no responder is removed after
// MaxMisses rounds. The server's listener is bound to loopback and, as
// serve usually binds it, to the wildcard address.
func TestKeeperWithSipgo(t *testing.T) {
	for _, bind := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		t.Run(bind, func(t *testing.T) { testKeeperWithSipgo(t, bind) })
	}
}

func testKeeperWithSipgo(t *testing.T, bind string) {
	var mu sync.Mutex
	var sources []string
	var ruris []string
	_, phone := udpUA(t, "127.0.0.1:0", map[sip.RequestMethod]sipgo.RequestHandler{
		sip.OPTIONS: func(req *sip.Request, tx sip.ServerTransaction) {
			mu.Lock()
			sources = append(sources, req.Source())
			ruris = append(ruris, req.Recipient.String())
			mu.Unlock()
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil))
		},
	})
	serverUA, listener := udpUA(t, bind, nil)
	_, listenPort, _ := net.SplitHostPort(listener)
	client, err := sipgo.NewClient(serverUA)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := NewSipgoSender(client, SipgoOptions{LocalAddr: listener})
	if err != nil {
		t.Fatal(err)
	}

	loc := location.New(nopStore{}, nil, location.Options{})
	add := func(number, contact, source string) {
		b := store.Binding{Contact: contact, Source: source, Transport: "udp", Q: 1,
			Expires: time.Now().Add(time.Hour), CallID: "reg-" + number, CSeq: 1}
		if _, err := loc.Update(1, number, []store.Binding{b}, nil); err != nil {
			t.Fatal(err)
		}
	}
	add("2001", "sip:2001@192.168.1.10:5060;transport=udp", phone)
	add("2002", "sip:2002@192.168.1.11:5060", deadAddr(t))

	const interval, timeout, maxMisses = 100 * time.Millisecond, 300 * time.Millisecond, 2
	k := New(sender, loc, zaptest.NewLogger(t), Options{Interval: interval, Timeout: timeout, MaxMisses: maxMisses})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	}()

	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for len(loc.Bindings(1, "2002")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("dead binding not removed within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Two rounds, each waiting for the dead ping to time out, cannot end
	// sooner than this.
	if took := time.Since(start); took < maxMisses*timeout {
		t.Fatalf("dead binding removed after %s, before %d timeouts of %s could pass", took, maxMisses, timeout)
	}
	if len(loc.Bindings(1, "2001")) != 1 {
		t.Fatal("answering binding removed")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(sources) < maxMisses {
		t.Fatalf("phone received %d pings, want at least %d", len(sources), maxMisses)
	}
	for i, src := range sources {
		if _, port, _ := net.SplitHostPort(src); port != listenPort {
			t.Fatalf("ping %d came from %s, not from the listener %s: it would not pass the phone's NAT pinhole", i, src, listener)
		}
		if ruris[i] != "sip:2001@192.168.1.10:5060;transport=udp" {
			t.Fatalf("ping %d request-URI %s, want the Contact", i, ruris[i])
		}
	}
}

func TestNewSipgoSenderNeedsListenerAddr(t *testing.T) {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "localhost:5060", "127.0.0.1"} {
		if _, err := NewSipgoSender(client, SipgoOptions{LocalAddr: bad}); err == nil {
			t.Errorf("LocalAddr %q accepted", bad)
		}
	}
	if _, err := NewSipgoSender(nil, SipgoOptions{LocalAddr: "127.0.0.1:5060"}); err == nil {
		t.Error("nil client accepted")
	}
}
