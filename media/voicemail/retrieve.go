package voicemail

import (
	"context"
	"errors"
	"os"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Retrieve lets a mailbox owner hear and manage messages and settings.
// Parameters: tenant (id), mailbox (set when the proxy authenticated the
// caller as the mailbox's own extension), lang.
//
// Login: a caller from their own phone (mailbox set) gets in without a
// PIN unless the mailbox asks for one (AskPIN) and has one; AskPIN without
// a PIN set cannot be honoured and lets the owner in. Anyone else enters
// mailbox number and PIN, three tries; a mailbox without a PIN cannot be
// reached that way, and an unknown mailbox fails exactly like a wrong PIN.
//
// Messages play new first, then saved, oldest first within each. After a
// message: 5 repeats it, 6 goes on (a new message becomes saved: it has
// been heard, and message-waiting lamps should go out), 7 deletes it, 9
// saves it, * returns to the main menu. Keys work during the message too.
func (a *App) Retrieve(ctx context.Context, c Call) {
	t := a.turn(ctx, c, "retrieve")
	tenantID, ok := ParseTenant(c.Param("tenant"))
	t.log = t.log.With(zap.Int64("tenant", tenantID))
	if !ok {
		t.log.Warn("voicemail retrieve: bad tenant parameter", zap.String("tenant_param", c.Param("tenant")))
		_, _ = t.say(false, "vm-goodbye")
		return
	}
	mb, ok := t.login(tenantID)
	if !ok {
		return
	}
	t.log = t.log.With(zap.String("ext", mb.Number))
	if c.Param("lang") == "" {
		t.lang = pickLang(mb.Language, a.cfg.Language)
	}
	t.log.Info("voicemail: mailbox opened")
	if err := t.mainMenu(&mb); err != nil && ctx.Err() == nil {
		t.log.Error("voicemail retrieve", zap.Error(err))
		_, _ = t.say(false, "feature-failed", "vm-goodbye")
	}
}

// login identifies the mailbox; false means the call should end.
func (t *turn) login(tenantID int64) (Mailbox, bool) {
	if own := t.c.Param("mailbox"); own != "" {
		mb, found, err := t.a.lookup(t.ctx, tenantID, own)
		if err != nil {
			t.log.Error("voicemail login: mailbox lookup", zap.Error(err))
			_, _ = t.say(false, "feature-failed", "vm-goodbye")
			return Mailbox{}, false
		}
		if found && mb.Enabled {
			if c := t.c.Param("lang"); c == "" {
				t.lang = pickLang(mb.Language, t.a.cfg.Language)
			}
			if !mb.AskPIN || mb.PINHash == "" {
				return mb, true
			}
			for range maxTries {
				pin, err := t.ask(maxPINLen+1, "vm-enter-pin")
				if err != nil {
					return Mailbox{}, false
				}
				if VerifyPIN(mb.PINHash, pin) {
					return mb, true
				}
				if _, err := t.say(false, "vm-login-incorrect"); err != nil {
					return Mailbox{}, false
				}
			}
			t.log.Info("voicemail login failed: wrong PIN", zap.String("ext", own))
			_, _ = t.say(false, "vm-goodbye")
			return Mailbox{}, false
		}
		// Not a mailbox (voicemail off, renumbered): ask like anyone else.
	}
	for range maxTries {
		number, err := t.ask(32, "vm-enter-mailbox")
		if err != nil {
			return Mailbox{}, false
		}
		pin, err := t.ask(maxPINLen+1, "vm-enter-pin")
		if err != nil {
			return Mailbox{}, false
		}
		mb, found, err := t.a.lookup(t.ctx, tenantID, number)
		if err != nil {
			t.log.Error("voicemail login: mailbox lookup", zap.Error(err))
		}
		usable := found && mb.Enabled && mb.PINHash != ""
		hash := t.a.dummyHash
		if usable {
			hash = mb.PINHash
		}
		// Verify even for an unknown mailbox so that the time taken does
		// not tell which mailboxes exist.
		if VerifyPIN(hash, pin) && usable {
			return mb, true
		}
		t.log.Info("voicemail login failed", zap.String("mailbox_entered", number))
		if _, err := t.say(false, "vm-login-incorrect"); err != nil {
			return Mailbox{}, false
		}
	}
	_, _ = t.say(false, "vm-goodbye")
	return Mailbox{}, false
}

// summary says how many messages there are.
func (t *turn) summary(newCount, savedCount int) []string {
	if newCount == 0 && savedCount == 0 {
		return []string{"vm-no-messages"}
	}
	names := []string{"vm-you-have"}
	if newCount > 0 {
		names = append(names, t.a.cfg.Prompts.Number(t.lang, newCount)...)
		names = append(names, plural(newCount, "vm-new-message", "vm-new-messages"))
	}
	if newCount > 0 && savedCount > 0 {
		names = append(names, "vm-and")
	}
	if savedCount > 0 {
		names = append(names, t.a.cfg.Prompts.Number(t.lang, savedCount)...)
		names = append(names, plural(savedCount, "vm-saved-message", "vm-saved-messages"))
	}
	return names
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// mainMenu runs the main menu until the caller leaves; an error is a
// store failure (a hang-up ends it quietly).
func (t *turn) mainMenu(mb *Mailbox) error {
	for idle := 0; idle < maxTries; {
		n, s, err := t.a.cfg.Messages.Counts(t.ctx, mb.TenantID, mb.Number)
		if err != nil {
			return err
		}
		key, err := t.choose(append(t.summary(n, s), "vm-main-menu")...)
		if err != nil {
			return nil
		}
		idle++
		switch key {
		case 0:
			continue
		case '1':
			err = t.playMessages(mb)
		case '0':
			err = t.options(mb)
		case '*':
			_, _ = t.say(false, "vm-goodbye")
			return nil
		default:
			_, err = t.say(false, "vm-invalid")
		}
		if err != nil {
			if t.ctx.Err() != nil {
				return nil // hung up
			}
			return err
		}
		idle = 0
	}
	_, _ = t.say(false, "vm-goodbye")
	return nil
}

// playMessages plays the mailbox's messages with the message menu.
func (t *turn) playMessages(mb *Mailbox) error {
	news, err := t.a.cfg.Messages.List(t.ctx, mb.TenantID, mb.Number, store.VoicemailNew)
	if err != nil {
		return err
	}
	saved, err := t.a.cfg.Messages.List(t.ctx, mb.TenantID, mb.Number, store.VoicemailSaved)
	if err != nil {
		return err
	}
	msgs := append(news, saved...)
	if len(msgs) == 0 {
		_, err := t.say(false, "vm-no-messages")
		return err
	}
	for i := 0; i < len(msgs); {
		m := &msgs[i]
		key, err := t.playMessage(i+1, m)
		if err != nil {
			return err
		}
		next, err := t.messageMenu(mb, m, key)
		if err != nil {
			return err
		}
		switch next {
		case stepRepeat:
		case stepNext:
			i++
		case stepDeleted:
			msgs = append(msgs[:i], msgs[i+1:]...)
		case stepBack:
			return nil
		}
	}
	_, err = t.say(false, "vm-no-more-messages")
	return err
}

// playMessage plays "message N from ..." and the audio; a key stops it.
func (t *turn) playMessage(n int, m *store.VoicemailMessage) (rune, error) {
	names := append([]string{"vm-message"}, t.a.cfg.Prompts.Number(t.lang, n)...)
	if digits := t.a.cfg.Prompts.Digits(m.CallerNumber); m.CallerNumber != "" && len(digits) > 0 {
		names = append(append(names, "vm-from"), digits...)
	} else {
		names = append(names, "vm-from", "vm-unknown-caller")
	}
	key, err := t.say(true, names...)
	if key != 0 || err != nil {
		return key, err
	}
	pcm, err := t.a.readAudio(m.Path)
	if err != nil {
		// The row without its audio is still worth its menu: it can be
		// deleted from here.
		t.log.Error("voicemail: message audio unreadable", zap.Int64("id", m.ID), zap.Error(err))
		return 0, nil
	}
	return t.c.Play(t.ctx, pcm, true)
}

type step int

const (
	stepRepeat step = iota
	stepNext
	stepDeleted
	stepBack
)

// messageMenu acts on the key pressed during or after a message.
func (t *turn) messageMenu(mb *Mailbox, m *store.VoicemailMessage, key rune) (step, error) {
	for tries := 0; ; {
		if key == 0 {
			if tries == maxTries {
				return stepBack, nil
			}
			tries++
			var err error
			if key, err = t.choose("vm-message-menu"); err != nil {
				return stepBack, err
			}
			continue
		}
		switch key {
		case '5':
			return stepRepeat, nil
		case '6':
			if m.Folder == store.VoicemailNew {
				if err := t.move(mb, m); err != nil {
					return stepBack, err
				}
			}
			return stepNext, nil
		case '7':
			if err := t.deleteMessage(mb, m); err != nil {
				return stepBack, err
			}
			_, err := t.say(false, "vm-deleted")
			return stepDeleted, err
		case '9':
			if err := t.move(mb, m); err != nil {
				return stepBack, err
			}
			_, err := t.say(false, "vm-saved")
			return stepNext, err
		case '*':
			return stepBack, nil
		}
		if _, err := t.say(false, "vm-invalid"); err != nil {
			return stepBack, err
		}
		key = 0
	}
}

// move marks a message heard (saved).
func (t *turn) move(mb *Mailbox, m *store.VoicemailMessage) error {
	if m.Folder == store.VoicemailSaved {
		return nil
	}
	sctx, cancel := t.storeCtx()
	defer cancel()
	if err := t.a.cfg.Messages.Move(sctx, m.ID, store.VoicemailSaved); err != nil {
		return err
	}
	m.Folder = store.VoicemailSaved
	t.changed(mb.TenantID, mb.Number)
	return nil
}

// deleteMessage removes a message's row and then its file: a file left
// behind by a crash in between is an orphan an admin can sweep, while a
// row without its file would be a message that cannot be played.
func (t *turn) deleteMessage(mb *Mailbox, m *store.VoicemailMessage) error {
	sctx, cancel := t.storeCtx()
	defer cancel()
	old, err := t.a.cfg.Messages.Delete(sctx, m.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = *m // deleted meanwhile (the web UI); the file may remain
	case err != nil:
		return err
	}
	if name, err := t.a.abs(old.Path); err == nil {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.log.Warn("voicemail: message file not removed", zap.String("path", old.Path), zap.Error(err))
		}
	}
	t.log.Info("voicemail: message deleted", zap.Int64("id", m.ID))
	t.changed(mb.TenantID, mb.Number)
	return nil
}

// options runs the mailbox options menu.
func (t *turn) options(mb *Mailbox) error {
	for idle := 0; idle < maxTries; {
		key, err := t.choose("vm-options-menu")
		if err != nil {
			return err
		}
		idle++
		switch key {
		case 0:
			continue
		case '1':
			err = t.recordGreeting(*mb, GreetingUnavailable)
		case '2':
			err = t.recordGreeting(*mb, GreetingBusy)
		case '4':
			err = t.temporaryMenu(mb)
		case '5':
			err = t.changePIN(mb)
		case '*':
			return nil
		default:
			_, err = t.say(false, "vm-invalid")
		}
		if err != nil {
			return err
		}
		idle = 0
	}
	return nil
}

func (t *turn) temporaryMenu(mb *Mailbox) error {
	key, err := t.choose("vm-temp-menu")
	if err != nil {
		return err
	}
	switch key {
	case '1':
		return t.recordGreeting(*mb, GreetingTemporary)
	case '2':
		return t.removeTemporary(*mb)
	case 0, '*':
		return nil
	}
	_, err = t.say(false, "vm-invalid")
	return err
}

// changePIN asks for a new PIN once (a phone keypad shows nothing to
// mistype twice for), checks it against ValidatePIN and stores its hash.
func (t *turn) changePIN(mb *Mailbox) error {
	for range maxTries {
		pin, err := t.ask(maxPINLen+1, "vm-new-pin")
		if err != nil {
			return err
		}
		if pin == "" {
			return nil
		}
		if ValidatePIN(pin) != nil {
			if _, err := t.say(false, "vm-pin-invalid"); err != nil {
				return err
			}
			continue
		}
		hash, err := HashPIN(pin)
		if err != nil {
			return err
		}
		sctx, cancel := t.storeCtx()
		err = t.a.cfg.Mailboxes.SetPIN(sctx, mb.TenantID, mb.Number, hash)
		cancel()
		if err != nil {
			t.log.Error("voicemail: PIN not saved", zap.Error(err))
			_, err := t.say(false, "feature-failed")
			return err
		}
		mb.PINHash = hash
		t.log.Info("voicemail: PIN changed")
		t.changed(mb.TenantID, mb.Number)
		_, err = t.say(false, "vm-pin-changed")
		return err
	}
	return nil
}
