package server

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/test/testrun"
)

func TestParseListen(t *testing.T) {
	ls, err := ParseListen("udp:127.0.0.1:5070, tcp:127.0.0.1:5070,tls:127.0.0.1:5071,ws:127.0.0.1:8088,wss:[::1]:8089")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"udp:127.0.0.1:5070", "tcp:127.0.0.1:5070", "tls:127.0.0.1:5071", "ws:127.0.0.1:8088", "wss:[::1]:8089"}
	for i, l := range ls {
		if l.String() != want[i] {
			t.Errorf("listener %d = %s, want %s", i, l, want[i])
		}
	}
	for _, bad := range []string{"", "udp", "sctp:1.2.3.4:5060", "udp:host.example:5060", "udp:1.2.3.4", "udp:1.2.3.4:x",
		"udp:127.0.0.1:5060,udp:127.0.0.1:5060"} {
		if _, err := ParseListen(bad); err == nil {
			t.Errorf("ParseListen(%q) accepted", bad)
		}
	}
}

// run starts a server on loopback and stops it at the end of the test,
// failing if it does not stop promptly.
func run(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Log = zaptest.NewLogger(t)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	testrun.Start(t, s.Serve)
	return s
}

func options(local, branch string) string {
	return "OPTIONS sip:fjordvik.test SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP " + local + ";branch=z9hG4bK-" + branch + "\r\n" +
		"From: <sip:probe@fjordvik.test>;tag=p1\r\nTo: <sip:fjordvik.test>\r\nCall-ID: " + branch + "\r\n" +
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

func readStatus(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	for { // drain headers
		l, err := r.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
	}
	return strings.TrimSpace(line)
}

func TestTCPKeepAliveOptionsAndSizeLimit(t *testing.T) {
	s := run(t, Options{Listen: []Listener{{"tcp", "127.0.0.1:0"}}, MaxMessageBytes: 2048})
	conn, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(conn)

	// RFC 5626 §3.5.1: a double-CRLF ping gets a single CRLF pong.
	if _, err := conn.Write([]byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	pong := make([]byte, 2)
	if _, err := r.Read(pong); err != nil || string(pong) != "\r\n" {
		t.Fatalf("keep-alive pong %q, %v", pong, err)
	}
	if _, err := conn.Write([]byte(options(conn.LocalAddr().String(), "o1"))); err != nil {
		t.Fatal(err)
	}
	if st := readStatus(t, r); st != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS: %q", st)
	}
	// A message above the limit ends the connection: there is no boundary
	// to resume at.
	big := options(conn.LocalAddr().String(), "o2")
	big = strings.Replace(big, "Max-Forwards", "X-Pad: "+strings.Repeat("x", 4096)+"\r\nMax-Forwards", 1)
	if _, err := conn.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("oversized message answered: %q", line)
	}
	// The server still serves new connections.
	conn2, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_ = conn2.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn2.Write([]byte(options(conn2.LocalAddr().String(), "o3"))); err != nil {
		t.Fatal(err)
	}
	if st := readStatus(t, bufio.NewReader(conn2)); st != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS after oversized: %q", st)
	}
}

func TestUnknownMethod405(t *testing.T) {
	s := run(t, Options{Listen: []Listener{{"tcp", "127.0.0.1:0"}}})
	conn, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	msg := strings.Replace(options(conn.LocalAddr().String(), "m1"), "OPTIONS", "PUBLISH", -1)
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if st := readStatus(t, bufio.NewReader(conn)); st != "SIP/2.0 405 Method Not Allowed" {
		t.Fatalf("PUBLISH: %q", st)
	}
}

func TestBusyPortFailsAtNew(t *testing.T) {
	s := run(t, Options{Listen: []Listener{{"tcp", "127.0.0.1:0"}}})
	if _, err := New(Options{Listen: []Listener{{"tcp", s.Addr("tcp")}}}); err == nil {
		t.Fatal("second server bound a busy port")
	}
}

func TestTLSWithoutCertSelfSigns(t *testing.T) {
	s := run(t, Options{Listen: []Listener{{"tls", "127.0.0.1:0"}, {"wss", "127.0.0.1:0"}}})
	if s.Addr("tls") == "" || s.Addr("wss") == "" {
		t.Fatalf("listeners %v", s.Listeners())
	}
	if _, err := New(Options{Listen: []Listener{{"tls", "127.0.0.1:0"}}, TLSCert: "only-cert.pem"}); err == nil {
		t.Fatal("cert without key accepted")
	}
}

type refuseAll struct{}

func (refuseAll) Allow(netip.Addr) (bool, string) { return false, "banned" }

func TestRefusedSourceGetsNoResponse(t *testing.T) {
	s := run(t, Options{Listen: []Listener{{"tcp", "127.0.0.1:0"}}, Guard: refuseAll{}})
	conn, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(options(conn.LocalAddr().String(), "g1"))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err == nil {
		t.Fatalf("refused source answered: %q", line)
	}
}
