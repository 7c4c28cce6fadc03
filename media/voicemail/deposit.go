package voicemail

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Deposit takes a message for a mailbox. Parameters: tenant (id), mailbox
// (extension number), greeting (unavailable, the default, or busy), lang.
//
// The caller hears the temporary greeting if one is recorded, else the
// recorded greeting for the reason, else a spoken default ("extension
// 2 0 0 1 is busy"); then vm-leave-message and the tone. Any key during
// the greeting skips to the tone. The message ends with #, 5 s of silence,
// the length limit or the caller hanging up; it is kept in every case
// unless it is too short to hold anything (Result.Empty).
func (a *App) Deposit(ctx context.Context, c Call) {
	t := a.turn(ctx, c, "deposit")
	tenantID, okTenant := ParseTenant(c.Param("tenant"))
	number := c.Param("mailbox")
	t.log = t.log.With(zap.Int64("tenant", tenantID), zap.String("ext", number))
	if !okTenant || !ValidMailbox(number) {
		t.log.Warn("voicemail deposit: bad parameters", zap.String("tenant_param", c.Param("tenant")))
		_, _ = t.say(false, "vm-person-unavailable", "vm-goodbye")
		return
	}
	mb, found, err := a.lookup(ctx, tenantID, number)
	if err != nil {
		t.log.Error("voicemail deposit: mailbox lookup", zap.Error(err))
	}
	if !found || !mb.Enabled {
		if err == nil {
			t.log.Info("voicemail deposit: no such mailbox, or voicemail off")
		}
		_, _ = t.say(false, "vm-person-unavailable", "vm-goodbye")
		return
	}
	if c.Param("lang") == "" {
		t.lang = pickLang(mb.Language, a.cfg.Language)
	}
	if a.cfg.MaxMessages > 0 {
		n, s, err := a.cfg.Messages.Counts(ctx, tenantID, number)
		if err != nil {
			t.log.Error("voicemail deposit: counts", zap.Error(err))
		} else if n+s >= a.cfg.MaxMessages {
			t.log.Info("voicemail deposit: mailbox full", zap.Int("messages", n+s))
			_, _ = t.say(false, "vm-mailbox-full")
			return
		}
	}
	kind := GreetingUnavailable
	if c.Param("greeting") == string(GreetingBusy) {
		kind = GreetingBusy
	}
	key, err := t.playGreeting(mb, kind)
	if err != nil {
		return
	}
	if key == 0 {
		if _, err := t.say(true, "vm-leave-message"); err != nil {
			return
		}
	}
	if _, err := t.say(false, "beep"); err != nil {
		return
	}
	c.FlushDigits()
	if err := t.takeMessage(mb); err != nil {
		if ctx.Err() != nil {
			// Gone at the tone: there was nothing to record.
			t.log.Info("voicemail deposit: caller left before recording", zap.Error(err))
			return
		}
		t.log.Error("voicemail deposit", zap.Error(err))
	}
}

// playGreeting plays the mailbox's greeting; a key ends it and is returned.
func (t *turn) playGreeting(mb Mailbox, kind Greeting) (rune, error) {
	if pcm := t.greeting(mb, kind); pcm != nil {
		return t.c.Play(t.ctx, pcm, true)
	}
	tail := "vm-is-unavailable"
	if kind == GreetingBusy {
		tail = "vm-is-busy"
	}
	digits := t.a.cfg.Prompts.Digits(mb.Number)
	if len(digits) != len(mb.Number) {
		// A number the digit prompts cannot say (letters, '+').
		tail = "vm-person-unavailable"
		if kind == GreetingBusy {
			tail = "vm-person-busy"
		}
		return t.say(true, tail)
	}
	names := append(append([]string{"vm-extension"}, digits...), tail)
	return t.say(true, names...)
}

// takeMessage records the message into its file and stores its row.
func (t *turn) takeMessage(mb Mailbox) error {
	now := t.a.cfg.Now()
	rel := path.Join(mailboxDir(mb.TenantID, mb.Number), fmt.Sprintf("msg-%d-%s.wav", now.UnixNano(), randomHex(4)))
	name, err := t.a.abs(rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(name), dirPerm); err != nil {
		return fmt.Errorf("message directory: %w", err)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("message file: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			_ = os.Remove(name)
		}
	}()
	res, err := t.c.Record(t.ctx, f, RecordOptions{
		MaxLength: t.a.cfg.MaxMessage, SilenceTimeout: t.a.cfg.Silence, StopKey: DefaultStopKey,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", rel, err)
	}
	log := t.log.With(zap.String("path", rel), zap.Stringer("reason", res.Reason), zap.Duration("duration", res.Duration))
	if res.Empty {
		log.Info("voicemail: empty message discarded")
		_, _ = t.say(false, "vm-no-message")
		return nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("message file: %w", err)
	}
	number, display := t.c.Caller()
	sctx, cancel := t.storeCtx()
	defer cancel()
	id, err := t.a.cfg.Messages.Add(sctx, store.VoicemailMessage{
		TenantID: mb.TenantID, Mailbox: mb.Number, CallerNumber: number, CallerName: display,
		CallID: t.c.CallID(), ReceivedAt: now.UTC(), DurationMillis: res.Duration.Milliseconds(),
		Folder: store.VoicemailNew, Path: rel, SizeBytes: st.Size(),
	})
	if err != nil {
		return fmt.Errorf("store message %s: %w", rel, err)
	}
	kept = true
	log.Info("voicemail: message stored", zap.Int64("id", id), zap.String("caller", number))
	t.changed(mb.TenantID, mb.Number)
	_, _ = t.say(false, "vm-message-saved")
	return nil
}
