package voicemail

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentralpbx/sentral/store"
)

// ExtensionMailboxes serves Mailboxes from the store's extensions: a
// mailbox is an extension with Voicemail set.
type ExtensionMailboxes struct {
	Extensions store.Repo[store.Extension]
}

var _ Mailboxes = ExtensionMailboxes{}

// Mailbox returns the extension's mailbox, ErrNoMailbox if there is no
// such extension.
func (m ExtensionMailboxes) Mailbox(ctx context.Context, tenantID int64, number string) (Mailbox, error) {
	e, err := m.Extensions.Find(ctx, tenantID, number)
	if errors.Is(err, store.ErrNotFound) {
		return Mailbox{}, ErrNoMailbox
	}
	if err != nil {
		return Mailbox{}, fmt.Errorf("voicemail: extension %s: %w", number, err)
	}
	return Mailbox{
		TenantID: tenantID, Number: e.Number, Enabled: e.Enabled && e.Voicemail,
		PINHash: e.VoicemailPIN, AskPIN: e.VoicemailAskPIN, Language: e.Language,
	}, nil
}

// SetPIN stores a new PIN hash on the extension, reading it again if an
// admin changed it meanwhile.
func (m ExtensionMailboxes) SetPIN(ctx context.Context, tenantID int64, number, hash string) error {
	for attempt := 0; ; attempt++ {
		e, err := m.Extensions.Find(ctx, tenantID, number)
		if err != nil {
			return fmt.Errorf("voicemail: set PIN of %s: %w", number, err)
		}
		e.VoicemailPIN = hash
		err = m.Extensions.Update(ctx, &e)
		if errors.Is(err, store.ErrConflict) && attempt < 2 {
			continue
		}
		if err != nil {
			return fmt.Errorf("voicemail: set PIN of %s: %w", number, err)
		}
		return nil
	}
}
