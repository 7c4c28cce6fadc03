package voicemail

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzAppParams feeds the request-URI parameters the applications read
// (tenant, mailbox, prompt, lang) and a PIN as typed: nothing may panic,
// no mailbox may lead a file outside the voicemail directory, and an
// accepted PIN must be 4-8 digits that are not one repeated.
func FuzzAppParams(f *testing.F) {
	f.Add("1", "2001", "vm-goodbye,feature-on", "en-GB", "2580")
	f.Add("0", "..", "", "", "")
	f.Add("-5", "2001/../x", "a,,b, c ,VM-X", "nb_NO", "1111")
	f.Add("9223372036854775807", "+47_22-33", strings.Repeat("x,", 40), "de", "12345678")
	f.Add("01", "2001\x00", "beep", "EN", "123456789")
	f.Fuzz(func(t *testing.T, tenant, mailbox, prompt, lang, pin string) {
		id, ok := ParseTenant(tenant)
		if ok && id <= 0 {
			t.Fatalf("tenant %q accepted as %d", tenant, id)
		}
		if ok && ValidMailbox(mailbox) {
			dir := filepath.Join("srv", "vm")
			a := &App{cfg: AppConfig{Dir: dir}}
			prefix := strconv.FormatInt(id, 10) + "/" + mailbox + "/"
			for _, g := range []Greeting{GreetingUnavailable, GreetingBusy, GreetingTemporary} {
				rel := GreetingPath(id, mailbox, g)
				if !strings.HasPrefix(rel, prefix) {
					t.Fatalf("greeting path %q outside %q", rel, prefix)
				}
				name, err := a.abs(rel)
				if err != nil || !strings.HasPrefix(name, dir+string(filepath.Separator)) {
					t.Fatalf("greeting %q resolves to %q, %v", rel, name, err)
				}
			}
		}
		names := announceNames(prompt)
		if len(names) > maxAnnounce {
			t.Fatalf("%d prompts", len(names))
		}
		for _, n := range names {
			if !validPromptName(n) {
				t.Fatalf("prompt name %q", n)
			}
		}
		if l := pickLang(lang); l != "nb" && l != "en" {
			t.Fatalf("language %q", l)
		}
		if ValidatePIN(pin) == nil {
			if len(pin) < minPINLen || len(pin) > maxPINLen || strings.Trim(pin, "0123456789") != "" ||
				strings.Count(pin, pin[:1]) == len(pin) {
				t.Fatalf("PIN %q accepted", pin)
			}
		}
	})
}
