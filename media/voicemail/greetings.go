package voicemail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/wav"
)

// Greeting names a recorded greeting.
type Greeting string

// The greetings a mailbox can have. The temporary one (holiday, sick
// leave) wins over the others while it exists.
const (
	GreetingUnavailable Greeting = "unavailable"
	GreetingBusy        Greeting = "busy"
	GreetingTemporary   Greeting = "temporary"
)

// Permissions of what the applications write: the audio is personal data.
const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// mailboxDir is a mailbox's directory relative to Dir, slash-separated.
func mailboxDir(tenantID int64, mailbox string) string {
	return path.Join(strconv.FormatInt(tenantID, 10), mailbox)
}

// GreetingPath returns where a greeting is stored, relative to Dir.
func GreetingPath(tenantID int64, mailbox string, g Greeting) string {
	return path.Join(mailboxDir(tenantID, mailbox), "greeting-"+string(g)+".wav")
}

// abs turns a slash-separated path relative to Dir into a file name,
// refusing anything that would leave Dir.
func (a *App) abs(rel string) (string, error) {
	if !fs.ValidPath(rel) || rel == "." {
		return "", fmt.Errorf("voicemail: path %q leaves the voicemail directory", rel)
	}
	return filepath.Join(a.cfg.Dir, filepath.FromSlash(rel)), nil
}

// readAudio reads a WAV file under Dir as 8 kHz samples.
func (a *App) readAudio(rel string) ([]int16, error) {
	name, err := a.abs(rel)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// wav reads only 8 kHz mono, which is all Record writes.
	_, pcm, err := wav.Read(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return pcm, nil
}

// greeting returns the recorded greeting to play for kind: the temporary
// one if there is one, else kind's; nil when neither is recorded.
func (t *turn) greeting(mb Mailbox, kind Greeting) []int16 {
	for _, g := range []Greeting{GreetingTemporary, kind} {
		pcm, err := t.a.readAudio(GreetingPath(mb.TenantID, mb.Number, g))
		switch {
		case err == nil && len(pcm) > 0:
			return pcm
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			t.log.Warn("voicemail: greeting unreadable", zap.String("greeting", string(g)), zap.Error(err))
		}
	}
	return nil
}

// recordGreeting records a greeting after the tone and, unless the caller
// hung up during it, replaces the old one atomically (a temporary file
// renamed over it), so a caller of the mailbox never hears half a file.
func (t *turn) recordGreeting(mb Mailbox, g Greeting) error {
	if _, err := t.say(false, "vm-record-greeting", "beep"); err != nil {
		return err
	}
	t.c.FlushDigits()
	final, err := t.a.abs(GreetingPath(mb.TenantID, mb.Number, g))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), dirPerm); err != nil {
		return fmt.Errorf("greeting directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(final), ".greeting-*.tmp")
	if err != nil {
		return fmt.Errorf("greeting file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	res, err := t.c.Record(t.ctx, f, RecordOptions{
		MaxLength: t.a.cfg.MaxGreeting, SilenceTimeout: DefaultGreetingSilent, StopKey: DefaultStopKey,
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record greeting: %w", err)
	}
	if res.Reason == ReasonHangup || res.Reason == ReasonCanceled {
		t.log.Info("voicemail: greeting abandoned by hang-up", zap.String("greeting", string(g)))
		return nil
	}
	if res.Empty {
		_, err := t.say(false, "vm-invalid")
		return err
	}
	if err := os.Chmod(tmp, filePerm); err != nil {
		return fmt.Errorf("greeting file: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("greeting file: %w", err)
	}
	t.log.Info("voicemail: greeting recorded", zap.Int64("tenant", mb.TenantID), zap.String("ext", mb.Number),
		zap.String("greeting", string(g)), zap.Duration("duration", res.Duration))
	t.changed(mb.TenantID, mb.Number)
	_, err = t.say(false, "vm-greeting-saved")
	return err
}

// removeTemporary deletes the temporary greeting.
func (t *turn) removeTemporary(mb Mailbox) error {
	name, err := t.a.abs(GreetingPath(mb.TenantID, mb.Number, GreetingTemporary))
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary greeting: %w", err)
	}
	t.changed(mb.TenantID, mb.Number)
	_, err = t.say(false, "vm-greeting-removed")
	return err
}
