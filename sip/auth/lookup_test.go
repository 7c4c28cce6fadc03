package auth

import (
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// fakeDevices holds one desk phone, AuthUser "dp-7" of tenant 1 in realm
// fjordvik.test, carrying extensions 2101 and 2102.
type fakeDevices struct{ calls int }

var deviceCreds = Credentials{HA1MD5: "dev-md5", HA1SHA256: "dev-sha"}

func (d *fakeDevices) DeviceCredentials(tenantID int64, authUser, number, realm string) (Credentials, bool) {
	d.calls++
	if tenantID == 1 && authUser == "dp-7" && realm == "fjordvik.test" && (number == "2101" || number == "2102") {
		return deviceCreds, true
	}
	return Credentials{}, false
}

func TestLookupExtension(t *testing.T) {
	tenant := store.Tenant{Meta: store.Meta{ID: 1}, Name: "fjordvik", Domain: "fjordvik.test"}
	own := store.Extension{Number: "2101", Enabled: true, HA1MD5: "own-md5", HA1SHA256: "own-sha"}
	disabled := own
	disabled.Enabled = false
	bare := store.Extension{Number: "2101", Enabled: true}
	tests := []struct {
		name        string
		number      string
		ext         store.Extension
		found       bool
		noDevices   bool
		user        string
		want        Credentials
		wantOK      bool
		wantDevCall bool
	}{
		{name: "own credentials", number: "2101", ext: own, found: true, user: "2101", want: Credentials{HA1MD5: "own-md5", HA1SHA256: "own-sha"}, wantOK: true},
		{name: "device carrying the line", number: "2101", ext: own, found: true, user: "dp-7", want: deviceCreds, wantOK: true, wantDevCall: true},
		{name: "device without credentials of its own on the extension", number: "2101", ext: bare, found: true, user: "dp-7", want: deviceCreds, wantOK: true, wantDevCall: true},
		{name: "device not carrying the line", number: "2103", ext: store.Extension{Number: "2103", Enabled: true, HA1MD5: "x"}, found: true, user: "dp-7", wantDevCall: true},
		{name: "unknown device", number: "2101", ext: own, found: true, user: "dp-8", wantDevCall: true},
		{name: "another extension's username", number: "2101", ext: own, found: true, user: "2102", wantDevCall: true},
		{name: "no device lookup", number: "2101", ext: own, found: true, noDevices: true, user: "dp-7"},
		{name: "extension without credentials", number: "2101", ext: bare, found: true, user: "2101"},
		{name: "disabled extension", number: "2101", ext: disabled, found: true, user: "2101"},
		{name: "disabled extension, device", number: "2101", ext: disabled, found: true, user: "dp-7"},
		{name: "unknown extension", number: "2101", user: "2101"},
		{name: "unknown extension, device", number: "2101", user: "dp-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDevices{}
			var devices DeviceAuth = d
			if tt.noDevices {
				devices = nil
			}
			got, ok := LookupExtension(tenant, tt.number, tt.ext, tt.found, devices)(tt.user)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
			if (d.calls > 0) != tt.wantDevCall {
				t.Errorf("device lookups %d, want any: %v", d.calls, tt.wantDevCall)
			}
		})
	}
}
