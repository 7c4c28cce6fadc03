package siptest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BaresipOptions describe one baresip phone.
type BaresipOptions struct {
	Ext, Password, Domain string
	// Proxy is Sentral's UDP listener (host:port): every request goes
	// there, so no DNS is needed.
	Proxy string
	// Audio is the audio source: "ausine,440" (a tone) or "aufile,/x.wav"
	// (an 8 kHz mono WAV). Default ausine,440.
	Audio string
	// AutoAnswer answers every incoming call by itself.
	AutoAnswer bool
	// Lifetime bounds the process (-t): it quits on its own should the
	// test lose track of it. Default 45 s.
	Lifetime time.Duration
	// MediaEnc, when set, loads the srtp module and sets the account's
	// mediaenc: "srtp" (RTP/AVP offer with SDES a=crypto), "srtp-mand"
	// (RTP/SAVP with SDES, SRTP required). Default: plain RTP.
	MediaEnc string
}

// Baresip is a running baresip driven over its ctrl_tcp module (netstring
// JSON on a loopback port): no UI, no sound card, no player, no STUN, TURN
// or ICE. Its output (with the SIP trace, -s) is kept.
type Baresip struct {
	cmd    *exec.Cmd
	out    SyncBuffer
	conn   net.Conn
	events chan map[string]any
	resp   chan map[string]any
	exited chan struct{}
}

// StartBaresip writes a config directory for the account, starts baresip
// (skipping the test without it, failing under CI) and connects to
// ctrl_tcp. The test's cleanup stops it and, when the test failed, logs
// its output.
func StartBaresip(t testing.TB, o BaresipOptions) *Baresip {
	t.Helper()
	bin := Tool(t, "baresip", "baresip")
	if o.Audio == "" {
		o.Audio = "ausine,440"
	}
	if o.Lifetime == 0 {
		o.Lifetime = 45 * time.Second
	}
	module, _, _ := strings.Cut(o.Audio, ",")
	rate, channels := "48000", "2"
	if module == "aufile" {
		rate, channels = "8000", "1"
	}
	dir := t.TempDir()
	ctrl := fmt.Sprintf("127.0.0.1:%d", FreePort(t, "tcp"))
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:0",
		"call_local_timeout 20",
		"call_max_calls 1",
		"audio_source " + o.Audio,
		"ausrc_srate " + rate,
		"ausrc_channels " + channels,
		"net_interface 127.0.0.1",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module " + module + ".so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen " + ctrl,
		"",
	}, "\n")
	if strings.HasPrefix(o.MediaEnc, "srtp") {
		config += "module srtp.so\n" // SDES (RFC 4568); dtls_srtp is another module
	}
	answer := ""
	if o.AutoAnswer {
		answer = ";answermode=auto"
	}
	if o.MediaEnc != "" {
		answer += ";mediaenc=" + o.MediaEnc
	}
	account := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_user=%s;auth_pass=%s;outbound=\"sip:%s;transport=udp\";regint=60;audio_codecs=pcmu%s\n",
		o.Ext, o.Domain, o.Ext, o.Password, o.Proxy, answer)
	for name, text := range map[string]string{"config": config, "accounts": account} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Lifetime+5*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-s", "-t", strconv.Itoa(int(o.Lifetime.Seconds())))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	p := &Baresip{cmd: cmd, events: make(chan map[string]any, 64), resp: make(chan map[string]any, 8), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start baresip: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.conn != nil {
			p.conn.Close()
		}
		cancel()
		<-p.exited
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", o.Ext, Tail(p.out.String(), 12000))
		}
	})
	// ctrl_tcp listens once the modules are loaded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			p.conn = c
			break
		}
		select {
		case <-p.exited:
			t.Fatalf("baresip exited at start:\n%s", Tail(p.out.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip ctrl_tcp not listening on %s after 10s: %v\n%s", ctrl, err, Tail(p.out.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	go p.read()
	return p
}

// Output is what baresip printed so far, the SIP trace included.
func (p *Baresip) Output() string { return p.out.String() }

// Stop ends baresip with SIGTERM, on which it unregisters and exits.
func (p *Baresip) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop baresip: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("baresip still running 10s after SIGTERM")
	}
}

// read splits ctrl_tcp's netstrings into events and command responses.
func (p *Baresip) read() {
	r := bufio.NewReader(p.conn)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(n[:len(n)-1])
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1) // payload and the trailing comma
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(buf[:size], &m) != nil {
			continue
		}
		ch := p.resp
		if m["event"] == true {
			ch = p.events
		}
		select {
		case ch <- m:
		default:
		}
	}
}

// Command sends one ctrl_tcp command and waits for its response.
func (p *Baresip) Command(t testing.TB, cmd, params string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": cmd})
	_ = p.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(p.conn, "%d:%s,", len(b), b); err != nil {
		t.Fatalf("baresip ctrl_tcp %s: %v", cmd, err)
	}
	select {
	case r := <-p.resp:
		if r["ok"] != true {
			t.Fatalf("baresip ctrl_tcp %s %s: %v", cmd, params, r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("baresip ctrl_tcp %s: no response in 5s", cmd)
	}
}

// WaitEvent waits for an event of type want, failing on any of failTypes.
func (p *Baresip) WaitEvent(t testing.TB, want string, within time.Duration, failTypes ...string) map[string]any {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-p.events:
			typ, _ := e["type"].(string)
			if typ == want {
				return e
			}
			for _, f := range failTypes {
				if typ == f {
					t.Fatalf("baresip event %s while waiting for %s: %v", typ, want, e)
				}
			}
		case <-p.exited:
			t.Fatalf("baresip exited while waiting for %s", want)
		case <-timeout:
			t.Fatalf("no baresip %s event within %s", want, within)
		}
	}
}
