package phones

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentralpbx/sentral/store"
)

// StoreSource reads devices from a store: the device by MAC (unique across
// tenants), its tenant, and each line's extension. Phones fetch their file
// at boot and on a timer, so a few reads per request cost nothing, and
// reading the store directly means a change is in the next file fetched.
func StoreSource(st store.Store) Source { return storeSource{st} }

type storeSource struct{ st store.Store }

func (s storeSource) DeviceByMAC(ctx context.Context, mac string) (Device, bool, error) {
	d, err := s.st.Devices().Find(ctx, 0, mac)
	if errors.Is(err, store.ErrNotFound) {
		return Device{}, false, nil
	}
	if err != nil {
		return Device{}, false, fmt.Errorf("find device %s: %w", mac, err)
	}
	t, err := s.st.Tenants().Get(ctx, d.TenantID)
	if err != nil {
		return Device{}, false, fmt.Errorf("device %s: tenant %d: %w", mac, d.TenantID, err)
	}
	out := Device{
		MAC:      d.MAC,
		Model:    d.Model,
		AuthUser: d.AuthUser,
		Secret:   d.Secret,
		Tenant:   t.Name,
		TenantID: d.TenantID,
		Domain:   t.Domain,
		Lines:    make([]Line, 0, len(d.Lines)),
	}
	for _, l := range d.Lines {
		e, err := s.st.Extensions().Get(ctx, l.ExtensionID)
		if errors.Is(err, store.ErrNotFound) {
			// Deleted between the two reads: leave the key out rather than
			// fail the whole phone.
			continue
		}
		if err != nil {
			return Device{}, false, fmt.Errorf("device %s: line %d: extension %d: %w", mac, l.Line, l.ExtensionID, err)
		}
		name := e.DisplayName
		if name == "" {
			name = e.Number
		}
		out.Lines = append(out.Lines, Line{Key: l.Line, Number: e.Number, DisplayName: name, Enabled: e.Enabled})
	}
	return out, true, nil
}
