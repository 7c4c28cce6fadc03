package provisioning

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// DeviceInput is what an admin types for a desk phone; nil fields are not
// given. Lines, when given, replace all line keys: "1=2001" puts extension
// 2001 on line key 1.
type DeviceInput struct {
	Model       *string
	Site        *string
	Description *string
	Lines       *[]string
	// AuthUser is the phone's own SIP and provisioning username; "" gives
	// the default, "ph" and the MAC.
	AuthUser *string
}

// DeviceView is a device with its site and line extensions by natural key.
type DeviceView struct {
	store.Device
	Site        string   `json:"site,omitempty"`
	LineNumbers []string `json:"line_numbers"` // "1=2001"
}

// maxLines is more line keys than any desk phone model we provision has
// (expansion modules included); a larger one is a typo.
const maxLines = 64

var devices = entity[store.Device, DeviceView]{
	kind: kindDevice,
	repo: store.Store.Devices,
	fields: map[string]string{"mac": "MAC", "model": "--model", "site_id": "--site", "lines": "--line",
		"extension_id": "--line", "auth_user": "--auth-user", "secret": "--rotate"},
	view: func(n *names, d *store.Device) DeviceView {
		v := DeviceView{Device: *d, Site: n.site(d.SiteID), LineNumbers: []string{}}
		for _, l := range d.Lines {
			v.LineNumbers = append(v.LineNumbers, fmt.Sprintf("%d=%s", l.Line, n.ext(l.ExtensionID)))
		}
		return v
	},
	key: func(k string) (string, error) { return NormalizeMAC("MAC", k) },
}

func (s *Service) applyDevice(ctx context.Context, t store.Tenant, d *store.Device, in DeviceInput) error {
	str(&d.Model, in.Model)
	str(&d.Description, in.Description)
	if err := required("--model", d.Model, "give the phone model, e.g. --model yealink-t54w"); err != nil {
		return err
	}
	var err error
	if in.Site != nil {
		if d.SiteID, err = optRef(ctx, s.st.Sites(), t, kindSite, "--site", *in.Site); err != nil {
			return err
		}
	}
	if in.Lines != nil {
		if d.Lines, err = s.parseLines(ctx, t, *in.Lines); err != nil {
			return err
		}
	}
	if d.Lines == nil {
		d.Lines = []store.DeviceLine{}
	}
	if in.AuthUser != nil {
		u := strings.ToLower(strings.TrimSpace(*in.AuthUser))
		if u == "" {
			u = store.DefaultAuthUser(d.MAC)
		}
		if !store.ValidAuthUser(u) {
			return Invalid("--auth-user", u, "is not a valid username: 3 to 64 lower-case letters, digits, dots, underscores or hyphens, starting with a letter",
				fmt.Sprintf(`give e.g. --auth-user resepsjon-1, or --auth-user "" for the default %s`, store.DefaultAuthUser(d.MAC)))
		}
		d.AuthUser = u
	}
	return nil
}

// DeviceSecretView is a desk phone's own credentials, shown on request
// only: they are what its configuration file carries.
type DeviceSecretView struct {
	Tenant   string `json:"tenant"`
	MAC      string `json:"mac"`
	AuthUser string `json:"auth_user"`
	Secret   string `json:"secret"`
	Rotated  bool   `json:"rotated"`
}

// DeviceSecret shows a desk phone's username and secret; with rotate it
// first replaces the secret with a new random one (the phone must then
// fetch its new configuration before it can register again).
func (s *Service) DeviceSecret(ctx context.Context, tenant, mac string, rotate bool) (DeviceSecretView, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return DeviceSecretView{}, err
	}
	d, err := devices.find(ctx, s.st, t, mac)
	if err != nil {
		return DeviceSecretView{}, err
	}
	if rotate {
		if d.Secret, err = store.NewDeviceSecret(); err != nil {
			return DeviceSecretView{}, err
		}
		if err := s.st.Devices().Update(ctx, &d); err != nil {
			return DeviceSecretView{}, fmt.Errorf("rotate the secret of device %s: %w", d.MAC, devices.explain(err))
		}
	}
	return DeviceSecretView{Tenant: t.Name, MAC: d.MAC, AuthUser: d.AuthUser, Secret: d.Secret, Rotated: rotate}, nil
}

// parseLines reads "KEY=NUMBER" line assignments.
func (s *Service) parseLines(ctx context.Context, t store.Tenant, specs []string) ([]store.DeviceLine, error) {
	lines := []store.DeviceLine{}
	seen := map[int]bool{}
	for _, spec := range specs {
		k, number, ok := strings.Cut(spec, "=")
		n, err := strconv.Atoi(strings.TrimSpace(k))
		if !ok || err != nil || n < 1 || n > maxLines {
			return nil, Invalid("--line", spec, fmt.Sprintf("is not LINE=NUMBER with a line key from 1 to %d", maxLines), "write e.g. --line 1=2001 (repeat --line for more keys)")
		}
		if seen[n] {
			return nil, Invalid("--line", spec, fmt.Sprintf("line key %d is given twice", n), "give each line key once")
		}
		seen[n] = true
		e, err := s.findExt(ctx, s.st, t, "--line", strings.TrimSpace(number))
		if err != nil {
			return nil, err
		}
		lines = append(lines, store.DeviceLine{Line: n, ExtensionID: e.ID})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].Line < lines[j].Line })
	return lines, nil
}

// AddDevice provisions a desk phone by MAC address.
func (s *Service) AddDevice(ctx context.Context, tenant, mac string, in DeviceInput) (DeviceView, error) {
	return devices.add(ctx, s, tenant, mac, func(t store.Tenant, key string, d *store.Device) error {
		*d = store.Device{TenantID: t.ID, MAC: key}
		return s.applyDevice(ctx, t, d, in)
	})
}

// UpdateDevice changes the given fields of a device.
func (s *Service) UpdateDevice(ctx context.Context, tenant, mac string, in DeviceInput) (DeviceView, error) {
	return devices.update(ctx, s, tenant, mac, func(t store.Tenant, d *store.Device) error { return s.applyDevice(ctx, t, d, in) })
}

// RemoveDevice deletes a device.
func (s *Service) RemoveDevice(ctx context.Context, tenant, mac string) (DeviceView, error) {
	return devices.remove(ctx, s, tenant, mac)
}

// Device shows one device.
func (s *Service) Device(ctx context.Context, tenant, mac string) (DeviceView, error) {
	return devices.get(ctx, s, tenant, mac)
}

// Devices lists a tenant's devices.
func (s *Service) Devices(ctx context.Context, tenant string) ([]DeviceView, error) {
	return devices.list(ctx, s, tenant)
}
