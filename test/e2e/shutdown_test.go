package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/test/phone"
)

// TestGracefulShutdown: on SIGTERM a node with a call in progress stops
// taking new calls and registrations (503 with Retry-After, /readyz 503)
// while the call goes on with audio both ways; when it hangs up the node
// exits at once (well before the drain timeout) with status 0, and the
// call's record is closed as answered.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	sip := fmt.Sprintf("127.0.0.1:%d", port4(t))
	s := startServerSIP(t, dir, filepath.Join(dir, "pbx.db"), "udp:"+sip, "SENTRAL_SIP_REGISTRAR_DIGEST_ALGORITHMS=MD5,SHA-256",
		"SENTRAL_RUNTIME_DRAIN_TIMEOUT=60s")
	n := &clusterNode{server: s, name: "single", sip: sip}
	s.mustCLI("tenant", "add", clTenant, "--domain", clDomain, "--ext-range", "2000-2999")
	for _, e := range []string{"2001", "2002", "2003"} {
		s.mustCLI("ext", "add", e, "--tenant", clTenant, "--name", "Ext "+e, "--password", e2ePassword)
	}
	s.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := n.deskPhone(ctx, t, "2001"), n.deskPhone(ctx, t, "2002")
	late, err := phone.New(ctx, phone.Options{User: "2003", Password: e2ePassword, Domain: clDomain, Proxy: n.sip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Close() })
	out, in := call(ctx, t, a, "2002", func() *phone.Call { return incoming(ctx, t, b, "2002", n) }, n)
	talking(ctx, t, "before SIGTERM", out, in)

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "/readyz says not ready", func() bool {
		res, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	})
	var se phone.StatusError
	if err := late.Register(ctx, time.Hour); !errors.As(err, &se) || se.Code != 503 {
		t.Errorf("REGISTER while draining: %v, want 503", err)
	}
	if _, err := b.Call(ctx, "2003"); !errors.As(err, &se) || se.Code != 503 {
		t.Errorf("new call while draining: %v, want 503", err)
	}
	talking(ctx, t, "after SIGTERM", out, in)
	select {
	case err := <-s.done:
		t.Fatalf("the node exited with a call up: %v\n%s", err, lastBytes(s.logText(), 3000))
	default:
	}

	hungUp := time.Now()
	if err := out.Hangup(ctx); err != nil {
		t.Fatalf("hangup: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after drain: %v\n%s", err, lastBytes(s.logText(), 3000))
		}
		t.Logf("exited %s after the last call ended", time.Since(hungUp).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after the last call ended (drain timeout 60 s)\n%s", lastBytes(s.logText(), 3000))
	}
	recs := recordsOf(t, n, out.Invite().CallID().Value())
	if len(recs) != 1 || recs[0]["disposition"] != "answered" || recs[0]["end_time"] == nil || recs[0]["end_time"] == "" {
		t.Errorf("the call's record after shutdown: %v", recs)
	}
}
