package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/sentralpbx/sentral/media/wav"
	"github.com/sentralpbx/sentral/test/phone"
)

// The voicemail test drives `sentral serve` with Go phones (test/phone):
// they send and receive real G.711 RTP, so the test can compare the audio
// a caller left with what was stored and what the owner hears back.

const vmDomain = "post.test"

// knownAudio is 3 s of a signal no prompt contains: two tones whose mix
// changes every 100 ms, so it correlates with itself at one offset only.
func knownAudio() []int16 {
	out := make([]int16, 3*8000)
	for i := range out {
		step := float64(i / 800)
		f1, f2 := 350+40*math.Mod(step*7, 11), 1300+90*math.Mod(step*5, 7)
		t := float64(i) / 8000
		out[i] = int16(6000*math.Sin(2*math.Pi*f1*t) + 4000*math.Sin(2*math.Pi*f2*t))
	}
	return out
}

// noMatch is findIn's answer when needle is not in hay.
const noMatch = math.MinInt

// findIn returns the offset in hay where needle starts, found by its
// middle second matching exactly (G.711 decoded samples compare equal;
// negative when hay lacks needle's beginning), or noMatch.
func findIn(hay, needle []int16) int {
	probe := needle[8000:9000]
	for off := 0; off+len(probe) <= len(hay); off++ {
		match := true
		for i, v := range probe {
			if hay[off+i] != v {
				match = false
				break
			}
		}
		if match {
			return off - 8000
		}
	}
	return noMatch
}

// sameAudio counts samples of want that differ from got at off.
func sameAudio(got, want []int16, off int) (differ int) {
	for i, v := range want {
		j := off + i
		if j < 0 || j >= len(got) || got[j] != v {
			differ++
		}
	}
	return differ
}

// hasTone reports whether samples hold at least 200 ms dominated by f Hz
// (the beep before recording).
func hasTone(samples []int16, f float64) bool {
	const win = 1600
	for start := 0; start+win <= len(samples); start += win / 2 {
		var energy, re, im float64
		for i := range win {
			s := float64(samples[start+i])
			energy += s * s
			ph := 2 * math.Pi * f * float64(i) / 8000
			re += s * math.Cos(ph)
			im += s * math.Sin(ph)
		}
		if energy > 1e6*win/1600 && (re*re+im*im)*2/float64(win) > 0.8*energy {
			return true
		}
	}
	return false
}

// waitNotify waits for a message-summary NOTIFY whose body says want
// ("Voice-Message: 1/0").
func waitNotify(t *testing.T, p *phone.Phone, want string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	var seen []string
	for {
		select {
		case n := <-p.Notifies():
			body := string(n.Body())
			if strings.Contains(body, want) {
				return body
			}
			seen = append(seen, body)
		case <-deadline:
			t.Fatalf("no NOTIFY with %q within 15 s; got %q", want, seen)
			return ""
		}
	}
}

// waitFor polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type vmView struct {
	ID           int64  `json:"id"`
	Mailbox      string `json:"mailbox"`
	CallerNumber string `json:"caller_number"`
	Folder       string `json:"folder"`
	Path         string `json:"path"`
}

// TestVoicemailThroughServe: 100 calls 101, which rings without answer;
// after 101's no-answer time the call reaches 101's mailbox, where 100
// leaves known audio after the beep and ends with #. The stored WAV holds
// that audio sample for sample; 101's phone, subscribed to message-summary,
// sees 0/0 then 1/0; 101 dials *98, presses 1 and hears the message (the
// same samples), presses 7 to delete it, and the lamp goes out (0/0).
// A feature code (*21#) is confirmed by an announcement and changes the
// setting.
// It runs on SQLite and on PostgreSQL.
func TestVoicemailThroughServe(t *testing.T) { eachStore(t, testVoicemail) }

func testVoicemail(t *testing.T, dsn string) {
	vmDir := t.TempDir()
	p := startPBXOn(t, dsn, "SENTRAL_MEDIA_VOICEMAIL_DIR="+vmDir)
	p.mustCLI("tenant", "add", "post", "--domain", vmDomain, "--ext-range", "100-199")
	p.mustCLI("ext", "add", "100", "--tenant", "post", "--name", "Innringer", "--password", e2ePassword, "--voicemail=false")
	p.mustCLI("ext", "add", "101", "--tenant", "post", "--name", "Kari Nordmann", "--password", e2ePassword,
		"--no-answer-seconds", "5")
	p.synced()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	newPhone := func(user string) *phone.Phone {
		ph, err := phone.New(ctx, phone.Options{User: user, Password: e2ePassword, Domain: vmDomain, Proxy: p.v4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		return ph
	}
	kari, caller := newPhone("101"), newPhone("100")
	if err := kari.Register(ctx, time.Hour); err != nil {
		t.Fatalf("101 register: %v", err)
	}
	if err := kari.Subscribe(ctx, "message-summary", time.Hour); err != nil {
		t.Fatalf("101 subscribe: %v", err)
	}
	waitNotify(t, kari, "Voice-Message: 0/0")

	// 101 rings and does not answer; voicemail takes the call after 5 s.
	start := time.Now()
	call, err := caller.Call(ctx, "101")
	if err != nil {
		t.Fatalf("call 101: %v\n%s", err, lastBytes(p.logText(), 3000))
	}
	if waited := time.Since(start); waited < 4500*time.Millisecond {
		t.Errorf("voicemail answered after %v, want 101's no-answer time of 5 s", waited)
	}
	select {
	case in := <-kari.Incoming():
		if in.Invite() == nil {
			t.Error("101's phone saw no INVITE")
		}
	default:
		t.Error("101's phone never rang before voicemail took the call")
	}
	waitUntil(t, 20*time.Second, "the greeting's beep", func() bool { return hasTone(call.Received(), 1000) })
	// The beep is 400 ms and was heard after 200 ms: recording starts
	// when it ends.
	time.Sleep(400 * time.Millisecond)
	audio := knownAudio()
	if err := call.SendAudio(ctx, audio); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDTMF(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done(): // "message recorded, goodbye" and BYE
	case <-time.After(15 * time.Second):
		_ = call.Hangup(ctx)
	}

	var msgs []vmView
	waitUntil(t, 10*time.Second, "the message in the store", func() bool {
		out := p.mustCLI("voicemail", "list", "--tenant", "post", "--mailbox", "101", "--output", "json")
		msgs = nil
		return json.Unmarshal([]byte(out), &msgs) == nil && len(msgs) == 1
	})
	m := msgs[0]
	if m.CallerNumber != "100" || m.Folder != "new" {
		t.Errorf("stored message %+v, want new from 100", m)
	}
	f, err := os.Open(filepath.Join(vmDir, filepath.FromSlash(m.Path)))
	if err != nil {
		t.Fatalf("message file: %v", err)
	}
	_, stored, err := wav.Read(f)
	f.Close()
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	sent := call.Sent()
	off := findIn(stored, sent)
	if off == noMatch {
		t.Fatalf("the stored message (%d samples) does not contain the audio sent (%d samples)", len(stored), len(sent))
	}
	// Loopback loses nothing, but the first packets may precede latching.
	if d := sameAudio(stored, sent[480:], off+480); d > 0 {
		t.Errorf("stored message differs from the audio sent in %d of %d samples", d, len(sent)-480)
	}
	waitNotify(t, kari, "Voice-Message: 1/0")

	// The owner downloads it over HTTP (digest with the SIP password) from
	// the phones listener; a wrong password gets 401.
	apiBase := strings.TrimSuffix(p.phonesBase(t), "prov/") + "voicemail/" + vmDomain + "/101/messages"
	owner := &http.Client{Transport: &digest.Transport{Username: "101", Password: e2ePassword}}
	resp, err := owner.Get(apiBase)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(list), `"caller_number":"100"`) {
		t.Errorf("voicemail API list: %d %s", resp.StatusCode, list)
	}
	resp, err = owner.Get(fmt.Sprintf("%s/%d.wav", apiBase, m.ID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	onDisk, _ := os.ReadFile(filepath.Join(vmDir, filepath.FromSlash(m.Path)))
	if resp.StatusCode != 200 || !bytes.Equal(body, onDisk) {
		t.Errorf("voicemail API download: %d, %d bytes, want the %d bytes on disk", resp.StatusCode, len(body), len(onDisk))
	}
	stranger := &http.Client{Transport: &digest.Transport{Username: "101", Password: "Feil-Passord-99"}}
	resp, err = stranger.Get(apiBase)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("voicemail API with a wrong password: %d, want 401", resp.StatusCode)
	}

	// 101 listens from its own phone: no PIN.
	listen, err := kari.Call(ctx, "*98")
	if err != nil {
		t.Fatalf("101 calls *98: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := listen.SendDTMF(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the message played back", func() bool {
		got := listen.Received()
		at := findIn(got, sent)
		return at != noMatch && len(got) >= at+len(sent)
	})
	got := listen.Received()
	if d := sameAudio(got, sent[480:], findIn(got, sent)+480); d > 0 {
		t.Errorf("played-back message differs from the audio sent in %d samples", d)
	}
	time.Sleep(500 * time.Millisecond)
	if err := listen.SendDTMF(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	waitNotify(t, kari, "Voice-Message: 0/0")
	_ = listen.Hangup(ctx)
	waitUntil(t, 10*time.Second, "the message file deleted", func() bool {
		_, err := os.Stat(filepath.Join(vmDir, filepath.FromSlash(m.Path)))
		return os.IsNotExist(err)
	})

	// A feature code: *21# forwards every call to voicemail, confirmed by
	// an announcement.
	fc, err := kari.Call(ctx, "*21#")
	if err != nil {
		t.Fatalf("101 dials *21#: %v", err)
	}
	select {
	case <-fc.Done():
	case <-time.After(15 * time.Second):
		t.Error("the feature code's announcement did not hang up")
	}
	if n := len(fc.Received()); n < 4000 {
		t.Errorf("feature code announcement: %d samples heard, want a prompt", n)
	}
	if out := p.mustCLI("ext", "show", "101", "--tenant", "post", "--output", "json"); !strings.Contains(out, `"forward_always": "voicemail"`) {
		t.Errorf("after *21# ext show 101 says:\n%s", out)
	}
}

// TestGroupPickupAndVoicemailAPI: 100 calls 101, whose phone rings; 102,
// in a group with 101, dials *8: its INVITE ends with 480 Call Picked Up,
// the ringing call arrives at 102's phone asking to be answered at once
// (Call-Info answer-after=0), 102 answers and the caller is connected to
// 102, audio flowing both ways.
func TestGroupPickupAndVoicemailAPI(t *testing.T) {
	p := startPBX(t)
	p.mustCLI("tenant", "add", "post", "--domain", vmDomain, "--ext-range", "100-199")
	for _, n := range []string{"100", "101", "102"} {
		p.mustCLI("ext", "add", n, "--tenant", "post", "--name", "Ext "+n, "--password", e2ePassword, "--voicemail=false")
	}
	p.mustCLI("group", "add", "190", "--tenant", "post", "--name", "Ekspedisjonen", "--member", "101", "--member", "102")
	p.synced()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newPhone := func(user string) *phone.Phone {
		ph, err := phone.New(ctx, phone.Options{User: user, Password: e2ePassword, Domain: vmDomain, Proxy: p.v4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ph.Close() })
		if err := ph.Register(ctx, time.Hour); err != nil {
			t.Fatalf("%s register: %v", user, err)
		}
		return ph
	}
	caller, p101, p102 := newPhone("100"), newPhone("101"), newPhone("102")

	type result struct {
		call *phone.Call
		err  error
	}
	answered := make(chan result, 1)
	go func() {
		c, err := caller.Call(ctx, "101")
		answered <- result{c, err}
	}()
	select {
	case <-p101.Incoming(): // ringing at 101, not answered
	case <-time.After(10 * time.Second):
		t.Fatal("101 never rang")
	}

	_, err := p102.Call(ctx, "*8")
	var se phone.StatusError
	if !errors.As(err, &se) || se.Code != 480 {
		t.Fatalf("*8 from 102: %v, want 480 Call Picked Up", err)
	}
	var picked *phone.Call
	select {
	case picked = <-p102.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the picked-up call never reached 102")
	}
	if ci := picked.Invite().GetHeader("Call-Info"); ci == nil || !strings.Contains(ci.Value(), "answer-after=0") {
		t.Errorf("the picked-up INVITE asks for no auto-answer: %v", ci)
	}
	if err := picked.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-answered
	if r.err != nil {
		t.Fatalf("caller: %v", r.err)
	}
	tone := knownAudio()[:8000]
	go func() { _ = r.call.SendAudio(ctx, tone) }()
	if err := picked.SendAudio(ctx, tone); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "audio both ways", func() bool {
		_, in1 := r.call.Packets()
		_, in2 := picked.Packets()
		return in1 > 25 && in2 > 25
	})
	_ = r.call.Hangup(ctx)

}

// TestVoicemailByeReachesUnregisteredCaller: a caller that authenticates
// its INVITE without being registered from that address (a phone's
// second line, a softphone that never registered) leaves a message; when
// the message is done the media server's BYE reaches it through the
// proxy (found by the dialog, not by a binding), and the call's record
// closes. Found by the soak benchmark: the BYE got 404.
func TestVoicemailByeReachesUnregisteredCaller(t *testing.T) {
	vmDir := t.TempDir()
	p := startPBX(t, "SENTRAL_MEDIA_VOICEMAIL_DIR="+vmDir)
	p.mustCLI("tenant", "add", "post", "--domain", vmDomain, "--ext-range", "100-199")
	p.mustCLI("ext", "add", "100", "--tenant", "post", "--name", "Innringer", "--password", e2ePassword, "--voicemail=false")
	p.mustCLI("ext", "add", "101", "--tenant", "post", "--name", "Kari Nordmann", "--password", e2ePassword)
	p.synced()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller, err := phone.New(ctx, phone.Options{User: "100", Password: e2ePassword, Domain: vmDomain, Proxy: p.v4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caller.Close() })
	// 101 is not registered: its mailbox answers at once.
	call, err := caller.Call(ctx, "101")
	if err != nil {
		t.Fatalf("call 101: %v\n%s", err, lastBytes(p.logText(), 3000))
	}
	waitUntil(t, 20*time.Second, "the greeting's beep", func() bool { return hasTone(call.Received(), 1000) })
	time.Sleep(400 * time.Millisecond)
	if err := call.SendAudio(ctx, knownAudio()); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDTMF(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("the media server's BYE never reached the caller\n%s", lastBytes(p.logText(), 3000))
	}
	id := call.Invite().CallID().Value()
	waitUntil(t, 10*time.Second, "the call's record closed", func() bool {
		var recs []map[string]any
		today := time.Now().UTC().Format("2006-01-02")
		if json.Unmarshal([]byte(p.mustCLI("cdr", "list", "--tenant", "post", "--from", today, "-o", "json")), &recs) != nil {
			return false
		}
		for _, r := range recs {
			if r["call_id"] == id {
				return r["end_time"] != nil && r["end_time"] != ""
			}
		}
		return false
	})
}
