package phones

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// fakeRepo implements the two reads StoreSource uses; the embedded nil
// interface makes any other call panic, which would show a new dependency.
type fakeRepo[T any] struct {
	store.Repo[T]
	byID  map[int64]T
	byKey map[string]T
	err   error
}

func (r fakeRepo[T]) Get(_ context.Context, id int64) (T, error) {
	v, ok := r.byID[id]
	if r.err != nil {
		return v, r.err
	}
	if !ok {
		return v, store.ErrNotFound
	}
	return v, nil
}

func (r fakeRepo[T]) Find(_ context.Context, _ int64, key string) (T, error) {
	v, ok := r.byKey[key]
	if r.err != nil {
		return v, r.err
	}
	if !ok {
		return v, &store.FieldError{Entity: store.EntityDevice, Field: "mac", Value: key, Reason: "no such device", Kind: store.ErrNotFound}
	}
	return v, nil
}

type fakeStore struct {
	store.Store
	devices    fakeRepo[store.Device]
	tenants    fakeRepo[store.Tenant]
	extensions fakeRepo[store.Extension]
}

func (s *fakeStore) Devices() store.Repo[store.Device]       { return s.devices }
func (s *fakeStore) Tenants() store.Repo[store.Tenant]       { return s.tenants }
func (s *fakeStore) Extensions() store.Repo[store.Extension] { return s.extensions }

func TestStoreSource(t *testing.T) {
	st := &fakeStore{
		devices: fakeRepo[store.Device]{byKey: map[string]store.Device{
			"001565aabbcc": {TenantID: 7, MAC: "001565aabbcc", Model: "Yealink T54W", AuthUser: "ph001565aabbcc", Secret: "Yk3mPq7RtV9wXz2AbCdE",
				Lines: []store.DeviceLine{{Line: 1, ExtensionID: 11}, {Line: 2, ExtensionID: 12}, {Line: 3, ExtensionID: 99}}},
		}},
		tenants: fakeRepo[store.Tenant]{byID: map[int64]store.Tenant{7: {Name: "fjordvik", Domain: "fjordvik.test"}}},
		extensions: fakeRepo[store.Extension]{byID: map[int64]store.Extension{
			11: {Number: "2101", DisplayName: "Kari Nordmann", Enabled: true},
			12: {Number: "2102", Enabled: false},
		}},
	}
	src := StoreSource(st)
	ctx := context.Background()
	d, ok, err := src.DeviceByMAC(ctx, "001565aabbcc")
	if err != nil || !ok {
		t.Fatalf("DeviceByMAC: %v %v", ok, err)
	}
	want := Device{MAC: "001565aabbcc", Model: "Yealink T54W", AuthUser: "ph001565aabbcc", Secret: "Yk3mPq7RtV9wXz2AbCdE",
		Tenant: "fjordvik", TenantID: 7, Domain: "fjordvik.test",
		Lines: []Line{
			{Key: 1, Number: "2101", DisplayName: "Kari Nordmann", Enabled: true},
			{Key: 2, Number: "2102", DisplayName: "2102", Enabled: false}, // no name: the number
			// Extension 99 vanished between the reads: its key is left out.
		}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}

	if _, ok, err := src.DeviceByMAC(ctx, "0015650000ff"); ok || err != nil {
		t.Errorf("unknown MAC: %v %v, want not found and no error", ok, err)
	}

	boom := errors.New("disk on fire")
	st.extensions.err = boom
	if _, _, err := src.DeviceByMAC(ctx, "001565aabbcc"); !errors.Is(err, boom) {
		t.Errorf("extension read failure: %v", err)
	}
	st.devices.err = boom
	if _, _, err := src.DeviceByMAC(ctx, "001565aabbcc"); !errors.Is(err, boom) {
		t.Errorf("device read failure: %v", err)
	}
}
