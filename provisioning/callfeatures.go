package provisioning

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// ForwardKind names one of an extension's call forwards.
type ForwardKind string

// Forward kinds, as `sentral ext forward` and phones' feature codes name them.
const (
	ForwardAlways   ForwardKind = "always"
	ForwardBusy     ForwardKind = "busy"
	ForwardNoAnswer ForwardKind = "no-answer"
)

// ForwardKinds lists every kind, in the order they are tried on a call.
var ForwardKinds = []ForwardKind{ForwardAlways, ForwardBusy, ForwardNoAnswer}

// forwardFields maps store fields to the flags of `sentral ext forward`,
// which name the fields SetForward and SetDND refusals blame.
var forwardFields = map[string]string{
	"number": "NUMBER", "tenant_id": "--tenant", "forward_always": "--always", "forward_busy": "--busy",
	"forward_no_answer": "--no-answer", "no_answer_seconds": "--after", "dnd": "on|off",
}

// checkTarget normalises and validates a forward target (group false) or
// a group's overflow (group true) given in field, for the extension or
// group numbered self of tenant t. A "voicemail:NUMBER" target must name
// an extension of the tenant: a mailbox nobody has would lose the call.
func checkTarget(ctx context.Context, st store.Store, t store.Tenant, field, target, self string, group bool) (string, error) {
	target = strings.ReplaceAll(strings.TrimSpace(target), " ", "")
	if l := len(store.ForwardVoicemail); len(target) >= l && strings.EqualFold(target[:l], store.ForwardVoicemail) {
		target = store.ForwardVoicemail + target[l:]
	}
	fix := `use voicemail (the extension's own mailbox), voicemail:NUMBER (another extension's mailbox), a number such as 2001 or +4791234567, or "" to remove it`
	if group {
		fix = `use voicemail:NUMBER (an extension's mailbox), a number such as 2001 or +4791234567, or "" to remove it`
	}
	if err := store.ValidateForwardTarget(target, group); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) {
			return "", Invalid(field, target, fe.Reason, fix)
		}
		return "", err
	}
	if target != "" && target == self {
		return "", Invalid(field, target, "is the number itself: the call would come straight back", fix)
	}
	if mbox, ok := strings.CutPrefix(target, store.ForwardVoicemail+":"); ok {
		_, err := st.Extensions().Find(ctx, t.ID, mbox)
		if errors.Is(err, store.ErrNotFound) {
			return "", &Error{Field: field, Value: target, Problem: fmt.Sprintf("tenant %s has no extension %s, so there is no such mailbox", t.Name, mbox),
				Fix: fmt.Sprintf("name an extension's mailbox (see `sentral ext list --tenant %s`)", t.Name), Err: store.ErrNotFound}
		}
		if err != nil {
			return "", fmt.Errorf("find mailbox %s: %w", mbox, err)
		}
	}
	return target, nil
}

// checkNoAnswerSeconds validates a no-answer time given in field.
func checkNoAnswerSeconds(field string, n int) error {
	if n != 0 && (n < store.MinNoAnswerSeconds || n > store.MaxNoAnswerSeconds) {
		return Invalid(field, fmt.Sprint(n), "is out of range",
			fmt.Sprintf("use %d to %d seconds, or 0 for the default (%d)", store.MinNoAnswerSeconds, store.MaxNoAnswerSeconds, store.DefaultNoAnswerSeconds))
	}
	return nil
}

// applyCallFeatures validates the given call-feature fields of in onto e.
func (s *Service) applyCallFeatures(ctx context.Context, st store.Store, t store.Tenant, e *store.Extension, in ExtensionInput) error {
	for _, f := range []struct {
		flag string
		in   *string
		out  *string
	}{
		{"--forward-always", in.ForwardAlways, &e.ForwardAlways},
		{"--forward-busy", in.ForwardBusy, &e.ForwardBusy},
		{"--forward-no-answer", in.ForwardNoAnswer, &e.ForwardNoAnswer},
	} {
		if f.in == nil {
			continue
		}
		v, err := checkTarget(ctx, st, t, f.flag, *f.in, e.Number, false)
		if err != nil {
			return err
		}
		*f.out = v
	}
	if in.NoAnswerSeconds != nil {
		if err := checkNoAnswerSeconds("--no-answer-seconds", *in.NoAnswerSeconds); err != nil {
			return err
		}
		e.NoAnswerSeconds = *in.NoAnswerSeconds
	}
	if in.Language != nil {
		l := strings.ToLower(strings.TrimSpace(*in.Language))
		if !store.ValidLanguage(l) {
			return Invalid("--language", *in.Language, "is not a prompt language Sentral has", `use nb (Norwegian bokmål, the default) or en (English); "" restores the default`)
		}
		e.Language = l
	}
	for _, f := range []struct {
		in  *bool
		out *bool
	}{{in.DND, &e.DND}, {in.Voicemail, &e.Voicemail}, {in.VoicemailAskPIN, &e.VoicemailAskPIN}} {
		if f.in != nil {
			*f.out = *f.in
		}
	}
	return nil
}

// changeExtension reads an extension, lets apply change it and writes it
// back, unless apply changed nothing (a phone repeating a feature code
// costs no write). A concurrent write (an admin, the same phone twice) is
// retried on a fresh read a few times rather than failing the feature
// code. It takes a tenant lookup, an extension lookup and one write.
func (s *Service) changeExtension(ctx context.Context, tenant, number, what string, apply func(t store.Tenant, e *store.Extension) error) (store.Extension, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return store.Extension{}, err
	}
	const attempts = 3
	for i := 1; ; i++ {
		e, err := s.findExt(ctx, s.st, t, "NUMBER", number)
		if err != nil {
			return store.Extension{}, err
		}
		before := e
		if err := apply(t, &e); err != nil {
			return store.Extension{}, err
		}
		if e == before {
			return e, nil
		}
		err = s.st.Extensions().Update(ctx, &e)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, store.ErrConflict) || i == attempts {
			return store.Extension{}, fmt.Errorf("%s of extension %s: %w", what, e.Number, Explain(err, "ext", forwardFields))
		}
	}
}

// SetForward sets one forward of an extension to target, or clears it
// when target is empty. seconds, when not 0, also sets how long the
// extension rings first (ForwardNoAnswer only); 0 keeps it. Phones'
// feature codes call it from the running server as well as the CLI: it
// hashes nothing and writes only when something changes.
func (s *Service) SetForward(ctx context.Context, tenant, number string, kind ForwardKind, target string, seconds int) (store.Extension, error) {
	field := "--" + string(kind)
	switch kind {
	case ForwardAlways, ForwardBusy, ForwardNoAnswer:
	default:
		return store.Extension{}, Invalid("KIND", string(kind), "is not a kind of call forward", "use always, busy or no-answer")
	}
	if seconds != 0 {
		if kind != ForwardNoAnswer {
			return store.Extension{}, Invalid("--after", fmt.Sprint(seconds), "only applies to the no-answer forward",
				"drop --after, or give it with --no-answer")
		}
		if err := checkNoAnswerSeconds("--after", seconds); err != nil {
			return store.Extension{}, err
		}
	}
	return s.changeExtension(ctx, tenant, number, "forward "+string(kind), func(t store.Tenant, e *store.Extension) error {
		v, err := checkTarget(ctx, s.st, t, field, target, e.Number, false)
		if err != nil {
			return err
		}
		switch kind {
		case ForwardAlways:
			e.ForwardAlways = v
		case ForwardBusy:
			e.ForwardBusy = v
		case ForwardNoAnswer:
			e.ForwardNoAnswer = v
			if seconds != 0 {
				e.NoAnswerSeconds = seconds
			}
		}
		return nil
	})
}

// SetDND turns an extension's do-not-disturb on or off. Like SetForward it
// is cheap enough for phones' feature codes.
func (s *Service) SetDND(ctx context.Context, tenant, number string, on bool) (store.Extension, error) {
	what := "DND off"
	if on {
		what = "DND on"
	}
	return s.changeExtension(ctx, tenant, number, what, func(_ store.Tenant, e *store.Extension) error {
		e.DND = on
		return nil
	})
}

// GeneratePIN returns a random voicemail PIN that the PIN policy accepts
// for the extension: 6 digits, or the nearest length the policy allows.
func (s *Service) GeneratePIN(number string) (string, error) {
	n := min(max(6, s.pol.PIN.MinLength), s.pol.PIN.MaxLength)
	ten := big.NewInt(10)
	// Runs, repeated digits and the extension number are refused by the
	// policy; a random PIN is one of them rarely, so a few draws suffice.
	for range 100 {
		b := make([]byte, n)
		for i := range b {
			d, err := rand.Int(rand.Reader, ten)
			if err != nil {
				return "", fmt.Errorf("generate PIN: %w", err)
			}
			b[i] = byte('0' + d.Int64())
		}
		if pin := string(b); s.pol.PIN.Check(pin, number) == nil {
			return pin, nil
		}
	}
	return "", fmt.Errorf("generate PIN: no acceptable PIN of %d digits found", n)
}

// SetPIN gives an extension a new voicemail PIN (or a generated one,
// returned in the view once); an empty pin without generate clears it.
func (s *Service) SetPIN(ctx context.Context, tenant, number, pin string, generate bool) (ExtensionView, error) {
	if generate && pin != "" {
		return ExtensionView{}, Invalid("--generate", "", "cannot be combined with a given PIN", "use one of --pin, --generate and --clear")
	}
	if generate {
		var err error
		if pin, err = s.GeneratePIN(strings.TrimSpace(number)); err != nil {
			return ExtensionView{}, err
		}
	}
	v, err := s.UpdateExtension(ctx, tenant, number, ExtensionInput{PIN: &pin})
	if err == nil && generate {
		v.GeneratedPIN = pin
	}
	return v, err
}
