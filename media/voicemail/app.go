package voicemail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/media/prompts"
	"github.com/sentralpbx/sentral/store"
)

// Call is what the voicemail applications need of an answered call;
// media/mediaserver's Session is one. Key presses arrive by RFC 4733 or SIP
// INFO alike.
type Call interface {
	CallID() string
	// Param returns a request-URI parameter set by the proxy ("" if absent).
	Param(name string) string
	// Caller returns the caller's number ("" when withheld) and name.
	Caller() (number, display string)
	// Play plays 8 kHz samples; when interruptible a key press (or one
	// typed ahead) stops it and is returned.
	Play(ctx context.Context, samples []int16, interruptible bool) (rune, error)
	// ReadDigits reads up to max keys, stopping at terminator or after
	// timeout without a key; a timeout is not an error.
	ReadDigits(ctx context.Context, max int, timeout time.Duration, terminator rune) (string, error)
	// FlushDigits forgets keys typed ahead.
	FlushDigits()
	// Record records the caller (see Record); the stop key ends it.
	Record(ctx context.Context, w io.WriteSeeker, opts RecordOptions) (Result, error)
	// Hangup ends the call once the application returns.
	Hangup()
}

// Mailbox is what the applications need to know about a mailbox: an
// extension with voicemail.
type Mailbox struct {
	TenantID int64
	Number   string
	// Enabled is false when the extension or its voicemail is switched off:
	// nobody may leave or hear messages.
	Enabled bool
	// PINHash is the HashPIN hash; "" when no PIN is set.
	PINHash string
	// AskPIN makes the owner enter the PIN even from their own phone.
	AskPIN bool
	// Language is the mailbox's prompt language ("nb", "en"; "" default).
	Language string
}

// ErrNoMailbox is returned by Mailboxes.Mailbox for an unknown mailbox
// (store.ErrNotFound is understood the same way).
var ErrNoMailbox = errors.New("voicemail: no such mailbox")

// Mailboxes looks mailboxes up and changes their PIN.
type Mailboxes interface {
	Mailbox(ctx context.Context, tenantID int64, number string) (Mailbox, error)
	SetPIN(ctx context.Context, tenantID int64, number, hash string) error
}

// Messages stores message metadata; store.VoicemailStore is one.
type Messages interface {
	Add(ctx context.Context, m store.VoicemailMessage) (int64, error)
	List(ctx context.Context, tenantID int64, mailbox string, folder store.VoicemailFolder) ([]store.VoicemailMessage, error)
	Move(ctx context.Context, id int64, folder store.VoicemailFolder) error
	Delete(ctx context.Context, id int64) (store.VoicemailMessage, error)
	Counts(ctx context.Context, tenantID int64, mailbox string) (newCount, savedCount int, err error)
}

var _ Messages = store.VoicemailStore(nil)

// Prompts supplies the spoken prompts; BuiltinPrompts is media/prompts.
type Prompts interface {
	Samples(lang, name string) ([]int16, bool)
	Number(lang string, n int) []string
	Digits(s string) []string
}

type builtinPrompts struct{}

func (builtinPrompts) Samples(lang, name string) ([]int16, bool) { return prompts.Samples(lang, name) }
func (builtinPrompts) Number(lang string, n int) []string        { return prompts.Number(lang, n) }
func (builtinPrompts) Digits(s string) []string                  { return prompts.Digits(s) }

// BuiltinPrompts returns the prompts embedded in media/prompts.
func BuiltinPrompts() Prompts { return builtinPrompts{} }

// Defaults for AppConfig.
const (
	DefaultDigitTimeout   = 5 * time.Second
	DefaultMaxGreeting    = 60 * time.Second
	DefaultMaxMessages    = 100
	DefaultGreetingSilent = 3 * time.Second
	// storeTimeout bounds a store write made after the caller hung up,
	// when the call's context can no longer bound it.
	storeTimeout = 10 * time.Second
	// maxTries is how many tries a caller gets at a login or a new PIN,
	// and how often a menu is repeated without an answer.
	maxTries = 3
)

// AppConfig configures the voicemail applications.
type AppConfig struct {
	// Dir holds the audio: <tenant>/<mailbox>/msg-*.wav and greeting-*.wav.
	Dir       string
	Messages  Messages
	Mailboxes Mailboxes
	// Prompts defaults to BuiltinPrompts.
	Prompts Prompts
	// OnChange is called after a mailbox's messages or settings changed
	// (message stored, heard, deleted, greeting or PIN changed), for
	// message-waiting NOTIFYs and events. It runs on the call's goroutine.
	OnChange func(tenantID int64, mailbox string)
	Log      *zap.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
	// MaxMessage bounds a message (DefaultMaxLength, 120 s).
	MaxMessage time.Duration
	// MaxGreeting bounds a greeting (60 s).
	MaxGreeting time.Duration
	// Silence ends a message after this much silence (5 s).
	Silence time.Duration
	// MaxMessages per mailbox, new and saved; beyond it callers hear
	// vm-mailbox-full (100; negative: no limit).
	MaxMessages int
	// DigitTimeout is how long menus and number entry wait for a key (5 s).
	DigitTimeout time.Duration
	// Language is the prompt language when neither the call nor the
	// mailbox names one (prompts.Default).
	Language string
}

// App runs the voicemail applications: Deposit, Retrieve and Announce.
// It holds no per-call state; one App serves every call.
//
// On disk, under AppConfig.Dir, each mailbox has a directory
// <tenant id>/<mailbox>/ holding its messages, msg-<unix nanos>-<8 hex>.wav
// (the store row's Path is this name relative to Dir, slash-separated),
// and its greetings, greeting-{unavailable,busy,temporary}.wav. All are
// 8 kHz mono G.711 WAV as the call delivered it (µ-law or A-law), created
// 0640 in 0750 directories. Greetings are replaced atomically (a
// temporary file renamed over the old one); a message file is written in
// place and removed again if it ends up empty or its row cannot be stored.
type App struct {
	cfg       AppConfig
	log       *zap.Logger
	dummyHash string // verified against for unknown mailboxes: equal timing
}

// NewApp checks cfg and returns the applications.
func NewApp(cfg AppConfig) (*App, error) {
	if cfg.Dir == "" {
		return nil, errors.New("voicemail app: no directory")
	}
	if cfg.Messages == nil || cfg.Mailboxes == nil {
		return nil, errors.New("voicemail app: messages and mailboxes are required")
	}
	if cfg.Prompts == nil {
		cfg.Prompts = BuiltinPrompts()
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(int64, string) {}
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxLength
	}
	if cfg.MaxGreeting <= 0 {
		cfg.MaxGreeting = DefaultMaxGreeting
	}
	if cfg.Silence == 0 {
		cfg.Silence = DefaultSilenceTimeout
	}
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.DigitTimeout <= 0 {
		cfg.DigitTimeout = DefaultDigitTimeout
	}
	if cfg.Language == "" {
		cfg.Language = prompts.Default
	}
	dummy, err := HashPIN(randomHex(8))
	if err != nil {
		return nil, fmt.Errorf("voicemail app: %w", err)
	}
	return &App{cfg: cfg, log: cfg.Log, dummyHash: dummy}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// turn is one call's conversation: the call, its context and language.
type turn struct {
	a    *App
	c    Call
	ctx  context.Context
	lang string
	log  *zap.Logger
}

func (a *App) turn(ctx context.Context, c Call, app string) *turn {
	return &turn{a: a, c: c, ctx: ctx, lang: pickLang(c.Param("lang"), a.cfg.Language),
		log: a.log.With(zap.String("call_id", c.CallID()), zap.String("app", app))}
}

// pickLang returns the first of the tags that names a known language.
func pickLang(tags ...string) string {
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if i := strings.IndexAny(t, "-_"); i >= 0 {
			t = t[:i]
		}
		if t == prompts.NB || t == prompts.EN {
			return t
		}
	}
	return prompts.Default
}

// samples returns the prompts named, one after the other; a missing prompt
// is logged and left out rather than ending the call.
func (t *turn) samples(names ...string) []int16 {
	var out []int16
	for _, n := range names {
		s, ok := t.a.cfg.Prompts.Samples(t.lang, n)
		if !ok {
			t.log.Warn("voicemail: prompt missing", zap.String("prompt", n), zap.String("lang", t.lang))
			continue
		}
		out = append(out, s...)
	}
	return out
}

// say plays prompts; when interruptible a key stops them and is returned.
func (t *turn) say(interruptible bool, names ...string) (rune, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err // hung up: nothing to say
	}
	return t.c.Play(t.ctx, t.samples(names...), interruptible)
}

// ask plays prompts and reads up to max keys ended by #; keys pressed
// during the prompts are part of the answer.
func (t *turn) ask(max int, names ...string) (string, error) {
	d, err := t.say(true, names...)
	if err != nil {
		return "", err
	}
	got := ""
	switch {
	case d == '#':
		return "", nil
	case d != 0:
		got = string(d)
		if len(got) >= max {
			return got, nil
		}
	}
	rest, err := t.c.ReadDigits(t.ctx, max-len(got), t.a.cfg.DigitTimeout, '#')
	return got + rest, err
}

// choose plays a menu and returns the key pressed during it or within the
// digit timeout after it; 0 when none was.
func (t *turn) choose(names ...string) (rune, error) {
	d, err := t.say(true, names...)
	if d != 0 || err != nil {
		return d, err
	}
	s, err := t.c.ReadDigits(t.ctx, 1, t.a.cfg.DigitTimeout, 0)
	if err != nil || s == "" {
		return 0, err
	}
	return rune(s[0]), nil
}

// changed tells the wiring that a mailbox changed.
func (t *turn) changed(tenantID int64, mailbox string) {
	t.a.cfg.OnChange(tenantID, mailbox)
}

// storeCtx bounds store writes that must happen even when the caller has
// just hung up (a message recorded up to the hang-up is kept).
func (t *turn) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(t.ctx), storeTimeout)
}

// lookup finds a mailbox; found is false for an unknown one.
func (a *App) lookup(ctx context.Context, tenantID int64, number string) (Mailbox, bool, error) {
	if tenantID <= 0 || !ValidMailbox(number) {
		return Mailbox{}, false, nil
	}
	mb, err := a.cfg.Mailboxes.Mailbox(ctx, tenantID, number)
	switch {
	case errors.Is(err, ErrNoMailbox) || errors.Is(err, store.ErrNotFound):
		return Mailbox{}, false, nil
	case err != nil:
		return Mailbox{}, false, fmt.Errorf("mailbox %d/%s: %w", tenantID, number, err)
	}
	mb.TenantID, mb.Number = tenantID, number
	return mb, true, nil
}

// ValidMailbox reports whether s can name a mailbox: it becomes a directory
// name, so only 1-32 letters, digits, '+', '-' and '_' pass.
func ValidMailbox(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '+', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// ParseTenant reads the tenant parameter: a positive decimal id.
func ParseTenant(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// Announce plays the prompts named in the "prompt" parameter (comma
// separated, in the "lang" language) and hangs up: feature-code results
// and other one-line messages.
func (a *App) Announce(ctx context.Context, c Call) {
	t := a.turn(ctx, c, "announce")
	names := announceNames(c.Param("prompt"))
	if len(names) == 0 {
		t.log.Info("announce: no prompt to play", zap.String("prompt", c.Param("prompt")))
		return
	}
	if _, err := t.say(false, names...); err != nil {
		t.log.Debug("announce", zap.Error(err))
	}
	c.Hangup()
}

// maxAnnounce bounds the prompts one announcement plays.
const maxAnnounce = 16

// announceNames reads the prompt parameter: valid names only, at most
// maxAnnounce of them.
func announceNames(param string) []string {
	var names []string
	for n := range strings.SplitSeq(param, ",") {
		n = strings.TrimSpace(n)
		if validPromptName(n) && len(names) < maxAnnounce {
			names = append(names, n)
		}
	}
	return names
}

func validPromptName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
