package provisioning

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sentralpbx/sentral/media/voicemail"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// onBothStores runs fn against a service over SQLite and over PostgreSQL
// (skipped without SENTRAL_TEST_PG), each with tenant fjordvik (2000-2999)
// and extensions 2001 and 2002.
func onBothStores(t *testing.T, fn func(t *testing.T, ctx context.Context, svc *Service, st store.Store)) {
	for _, b := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sentral.db") }},
		{"PostgreSQL", func(t *testing.T) string { return pgtest.DSN(t, "provisioning_test") }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := backend.Open(ctx, b.dsn(t), backend.Options{})
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			svc := New(st, Policies{Password: DefaultPasswordPolicy(), PIN: DefaultPINPolicy()})
			if _, err := svc.AddTenant(ctx, "fjordvik", TenantInput{Domain: ptr("fjordvik.test"), ExtRanges: &[]string{"2000-2999"}}); err != nil {
				t.Fatalf("add tenant: %v", err)
			}
			for _, n := range []string{"2001", "2002"} {
				if _, err := svc.AddExtension(ctx, "fjordvik", n, ExtensionInput{Name: ptr("Ext " + n)}); err != nil {
					t.Fatalf("add extension %s: %v", n, err)
				}
			}
			fn(t, ctx, svc, st)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// wantRefusal checks err is an *Error naming field, with a fix.
func wantRefusal(t *testing.T, what string, err error, field string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) || pe.Field != field || pe.Fix == "" || !IsUserError(err) {
		t.Errorf("%s: %v; want a refusal of %s with a fix", what, err, field)
	}
}

func TestExtensionCallFeatures(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		// The Go API leaves voicemail off unless asked.
		v, err := svc.Extension(ctx, "fjordvik", "2001")
		if err != nil || v.Voicemail {
			t.Errorf("extension added without Voicemail: %+v, %v; want voicemail off", v.Extension, err)
		}
		v, err = svc.AddExtension(ctx, "fjordvik", "2003", ExtensionInput{Name: ptr("Per"), Voicemail: ptr(true), Language: ptr(" EN ")})
		if err != nil || !v.Voicemail || v.Language != "en" {
			t.Errorf("extension added with Voicemail and EN: %+v, %v", v.Extension, err)
		}

		// Targets are normalised: the keyword's case, spaces in numbers.
		v, err = svc.UpdateExtension(ctx, "fjordvik", "2001", ExtensionInput{
			ForwardAlways: ptr("+47 912 34 567"), ForwardBusy: ptr("Voicemail:2002"), ForwardNoAnswer: ptr("VOICEMAIL"),
			NoAnswerSeconds: ptr(30), DND: ptr(true), Voicemail: ptr(true), VoicemailAskPIN: ptr(true), Language: ptr("nb")})
		if err != nil {
			t.Fatalf("update call features: %v", err)
		}
		want := v.Extension
		if want.ForwardAlways != "+4791234567" || want.ForwardBusy != "voicemail:2002" || want.ForwardNoAnswer != "voicemail" ||
			want.NoAnswerSeconds != 30 || !want.DND || !want.Voicemail || !want.VoicemailAskPIN || want.Language != "nb" {
			t.Errorf("after update: %+v", want)
		}
		// An update of other fields keeps them.
		v, err = svc.UpdateExtension(ctx, "fjordvik", "2001", ExtensionInput{Name: ptr("Kari")})
		if err != nil {
			t.Fatal(err)
		}
		got := v.Extension
		if got.ForwardAlways != want.ForwardAlways || got.ForwardBusy != want.ForwardBusy || got.ForwardNoAnswer != want.ForwardNoAnswer ||
			got.NoAnswerSeconds != 30 || !got.DND || !got.Voicemail || !got.VoicemailAskPIN || got.Language != "nb" {
			t.Errorf("a rename changed the call features: %+v", got)
		}
		// "" clears a forward; 0 restores the default time.
		v, err = svc.UpdateExtension(ctx, "fjordvik", "2001", ExtensionInput{ForwardAlways: ptr(""), NoAnswerSeconds: ptr(0), Language: ptr("")})
		if err != nil || v.ForwardAlways != "" || v.NoAnswerSeconds != 0 || v.Language != "" || v.ForwardBusy != "voicemail:2002" {
			t.Errorf("clearing: %+v, %v", v.Extension, err)
		}

		for _, c := range []struct {
			what  string
			in    ExtensionInput
			field string
		}{
			{"a name as target", ExtensionInput{ForwardAlways: ptr("resepsjonen")}, "--forward-always"},
			{"the extension itself", ExtensionInput{ForwardBusy: ptr("2001")}, "--forward-busy"},
			{"a mailbox nobody has", ExtensionInput{ForwardNoAnswer: ptr("voicemail:2999")}, "--forward-no-answer"},
			{"a mailbox of a name", ExtensionInput{ForwardNoAnswer: ptr("voicemail:kari")}, "--forward-no-answer"},
			{"too short a no-answer time", ExtensionInput{NoAnswerSeconds: ptr(4)}, "--no-answer-seconds"},
			{"too long a no-answer time", ExtensionInput{NoAnswerSeconds: ptr(181)}, "--no-answer-seconds"},
			{"an unknown language", ExtensionInput{Language: ptr("de")}, "--language"},
		} {
			_, err := svc.UpdateExtension(ctx, "fjordvik", "2001", c.in)
			wantRefusal(t, c.what, err, c.field)
		}
		if _, err := svc.UpdateExtension(ctx, "fjordvik", "2001", ExtensionInput{ForwardNoAnswer: ptr("voicemail:2999")}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a mailbox nobody has: %v, want store.ErrNotFound", err)
		}
	})
}

func TestSetForwardAndDND(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		e, err := svc.SetForward(ctx, "fjordvik", "2001", ForwardAlways, "2002", 0)
		if err != nil || e.ForwardAlways != "2002" || e.Number != "2001" {
			t.Fatalf("SetForward always: %+v, %v", e, err)
		}
		e, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardNoAnswer, "voicemail", 25)
		if err != nil || e.ForwardNoAnswer != "voicemail" || e.NoAnswerSeconds != 25 || e.ForwardAlways != "2002" {
			t.Fatalf("SetForward no-answer: %+v, %v", e, err)
		}
		// 0 seconds keeps the time.
		e, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardNoAnswer, "voicemail:2002", 0)
		if err != nil || e.ForwardNoAnswer != "voicemail:2002" || e.NoAnswerSeconds != 25 {
			t.Fatalf("SetForward no-answer without seconds: %+v, %v", e, err)
		}

		// Repeating a feature code writes nothing.
		seq, err := st.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if e2, err := svc.SetForward(ctx, "fjordvik", "2001", ForwardAlways, "2002", 0); err != nil || e2.Version != e.Version {
			t.Errorf("repeated SetForward: version %d, %v; want %d unchanged", e2.Version, err, e.Version)
		}
		if e2, err := svc.SetDND(ctx, "fjordvik", "2001", false); err != nil || e2.Version != e.Version {
			t.Errorf("SetDND off when off: version %d, %v; want %d unchanged", e2.Version, err, e.Version)
		}
		if after, _ := st.LastChange(ctx); after != seq {
			t.Errorf("unchanged feature codes logged changes: seq %d -> %d", seq, after)
		}

		e, err = svc.SetDND(ctx, "fjordvik", "2001", true)
		if err != nil || !e.DND {
			t.Errorf("SetDND on: %+v, %v", e, err)
		}
		e, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardAlways, "", 0)
		if err != nil || e.ForwardAlways != "" || !e.DND || e.ForwardNoAnswer != "voicemail:2002" {
			t.Errorf("clear forward always: %+v, %v", e, err)
		}
		got, err := st.Extensions().Get(ctx, e.ID)
		if err != nil || got != e {
			t.Errorf("stored %+v, %v; SetForward answered %+v", got, err, e)
		}

		_, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardBusy, "2002", 30)
		wantRefusal(t, "seconds with the busy forward", err, "--after")
		_, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardNoAnswer, "2002", 200)
		wantRefusal(t, "too long a time", err, "--after")
		_, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardBusy, "abc", 0)
		wantRefusal(t, "a bad target", err, "--busy")
		_, err = svc.SetForward(ctx, "fjordvik", "2001", ForwardNoAnswer, "2001", 0)
		wantRefusal(t, "the extension itself", err, "--no-answer")
		_, err = svc.SetForward(ctx, "fjordvik", "2001", "sometimes", "2002", 0)
		wantRefusal(t, "an unknown kind", err, "KIND")
		_, err = svc.SetDND(ctx, "fjordvik", "2999", true)
		wantRefusal(t, "DND of an unknown extension", err, "NUMBER")
		_, err = svc.SetForward(ctx, "nowhere", "2001", ForwardBusy, "2002", 0)
		wantRefusal(t, "an unknown tenant", err, "--tenant")

		// Concurrent feature codes of one extension all take effect: a
		// write that lost the race is retried on a fresh read.
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for _, f := range []func() error{
			func() error { _, err := svc.SetForward(ctx, "fjordvik", "2002", ForwardAlways, "2001", 0); return err },
			func() error {
				_, err := svc.SetForward(ctx, "fjordvik", "2002", ForwardBusy, "voicemail", 0)
				return err
			},
			func() error { _, err := svc.SetDND(ctx, "fjordvik", "2002", true); return err },
		} {
			wg.Go(func() { errs <- f() })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent feature code: %v", err)
			}
		}
		if x, err := svc.Extension(ctx, "fjordvik", "2002"); err != nil || x.ForwardAlways != "2001" || x.ForwardBusy != "voicemail" || !x.DND {
			t.Errorf("after concurrent feature codes: %+v, %v; want all three applied", x.Extension, err)
		}
	})
}

func TestGroupOverflowAndPIN(t *testing.T) {
	onBothStores(t, func(t *testing.T, ctx context.Context, svc *Service, st store.Store) {
		g, err := svc.AddGroup(ctx, "fjordvik", "2900", GroupInput{Name: ptr("Sentralbord"), Members: &[]string{"2001"}, Overflow: ptr("voicemail:2002")})
		if err != nil || g.Overflow != "voicemail:2002" {
			t.Fatalf("add group with overflow: %+v, %v", g, err)
		}
		g, err = svc.UpdateGroup(ctx, "fjordvik", "2900", GroupInput{Strategy: ptr("hunt"), RingSeconds: ptr(15)})
		if err != nil || g.Overflow != "voicemail:2002" || g.Strategy != store.GroupHunt || g.RingSeconds != 15 {
			t.Errorf("update kept overflow? %+v, %v", g, err)
		}
		for _, c := range []struct{ what, overflow string }{
			{"a group's own mailbox", "voicemail"},
			{"the group itself", "2900"},
			{"a mailbox nobody has", "voicemail:2999"},
			{"a name", "resepsjonen"},
		} {
			_, err := svc.UpdateGroup(ctx, "fjordvik", "2900", GroupInput{Overflow: ptr(c.overflow)})
			wantRefusal(t, "overflow to "+c.what, err, "--overflow")
		}
		g, err = svc.UpdateGroup(ctx, "fjordvik", "2900", GroupInput{Overflow: ptr("")})
		if err != nil || g.Overflow != "" {
			t.Errorf("clear overflow: %+v, %v", g, err)
		}

		// A generated PIN satisfies the policy and is shown once; the
		// store keeps only its hash.
		v, err := svc.SetPIN(ctx, "fjordvik", "2001", "", true)
		if err != nil || v.GeneratedPIN == "" || !v.VoicemailPIN {
			t.Fatalf("SetPIN generate: %+v, %v", v, err)
		}
		if err := DefaultPINPolicy().Check(v.GeneratedPIN, "2001"); err != nil {
			t.Errorf("generated PIN %q breaks the policy: %v", v.GeneratedPIN, err)
		}
		e, err := st.Extensions().Find(ctx, v.TenantID, "2001")
		if err != nil || !voicemail.VerifyPIN(e.VoicemailPIN, v.GeneratedPIN) || strings.Contains(e.VoicemailPIN, v.GeneratedPIN) {
			t.Errorf("stored PIN hash %q does not verify the generated PIN, or holds it (%v)", e.VoicemailPIN, err)
		}
		v, err = svc.SetPIN(ctx, "fjordvik", "2001", "2580", false)
		if err != nil || v.GeneratedPIN != "" || !v.VoicemailPIN {
			t.Errorf("SetPIN 2580: %+v, %v", v, err)
		}
		_, err = svc.SetPIN(ctx, "fjordvik", "2001", "1234", false)
		wantRefusal(t, "a run as PIN", err, "--pin")
		_, err = svc.SetPIN(ctx, "fjordvik", "2001", "2580", true)
		wantRefusal(t, "a PIN and --generate", err, "--generate")
		v, err = svc.SetPIN(ctx, "fjordvik", "2001", "", false)
		if err != nil || v.VoicemailPIN {
			t.Errorf("clear PIN: %+v, %v", v, err)
		}

		// Imported extensions get voicemail, like `sentral ext add`.
		res, err := svc.ImportExtensions(ctx, "fjordvik", strings.NewReader("number,name\n2101,Åse\n"), ImportOptions{})
		if err != nil || len(res.Extensions) != 1 || !res.Extensions[0].Voicemail {
			t.Fatalf("import: %+v, %v", res, err)
		}
		if x, err := svc.Extension(ctx, "fjordvik", "2101"); err != nil || !x.Voicemail {
			t.Errorf("imported extension: %+v, %v; want voicemail on", x.Extension, err)
		}
	})
}
