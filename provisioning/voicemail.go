package provisioning

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// VoicemailMessages lists a tenant's voicemail messages: one mailbox's
// (an extension number) or, with mailbox "", every mailbox's that has
// any, by mailbox number; each mailbox's oldest first. folder is "" (all),
// "new" or "saved". A mailbox need not be an extension any more: its
// messages outlive the extension until they are deleted.
func (s *Service) VoicemailMessages(ctx context.Context, tenant, mailbox, folder string) ([]store.VoicemailMessage, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	f := store.VoicemailFolder(strings.ToLower(strings.TrimSpace(folder)))
	switch f {
	case "", store.VoicemailNew, store.VoicemailSaved:
	default:
		return nil, Invalid("--folder", folder, "is not a voicemail folder", "use new (not yet heard) or saved (heard and kept), or leave it out for both")
	}
	var boxes []string
	if strings.TrimSpace(mailbox) != "" {
		m, err := CheckNumber("--mailbox", mailbox)
		if err != nil {
			return nil, err
		}
		boxes = []string{m}
	} else {
		counts, err := s.st.Voicemail().CountsAll(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("count voicemail of tenant %s: %w", t.Name, err)
		}
		for m := range counts {
			boxes = append(boxes, m)
		}
		sort.Slice(boxes, func(i, j int) bool {
			if len(boxes[i]) != len(boxes[j]) {
				return len(boxes[i]) < len(boxes[j])
			}
			return boxes[i] < boxes[j]
		})
	}
	out := []store.VoicemailMessage{}
	for _, m := range boxes {
		ms, err := s.st.Voicemail().List(ctx, t.ID, m, f)
		if err != nil {
			return nil, fmt.Errorf("list voicemail of mailbox %s of tenant %s: %w", m, t.Name, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}
