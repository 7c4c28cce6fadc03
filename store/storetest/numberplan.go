package storetest

import (
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// testNumberPlan covers the defaults the store fills in for the number
// plan, trunks and devices: what a writer that leaves them empty gets.
func testNumberPlan(t *testing.T, h Harness) {
	ctx, st, _ := open(t, h)
	f := newFixture(t, ctx, st)

	// A tenant created without a policy for unknown DIDs sends them to the
	// switchboard; one without a prefix has none.
	got, err := st.Tenants().Get(ctx, f.t1.ID)
	if err != nil {
		t.Fatalf("Get tenant: %v", err)
	}
	if got.UnknownDID != store.UnknownDIDSwitchboard || got.OutsidePrefix != "" {
		t.Errorf("new tenant: unknown_did %q, outside_prefix %q; want switchboard and none", got.UnknownDID, got.OutsidePrefix)
	}

	// The switchboard number may be a group's (the operators the main
	// number rings), whichever comes first; never an extension's.
	sbGroup := store.Group{TenantID: f.t1.ID, Number: "2990", Name: "Sentralbord", Strategy: store.GroupSimultaneous, RingSeconds: 30}
	mustCreate(t, ctx, st.Groups(), &sbGroup)
	tn := got
	tn.SwitchboardNumber = "2990"
	if err := st.Tenants().Update(ctx, &tn); err != nil {
		t.Fatalf("switchboard number on the operators' group: %v", err)
	}
	other := store.Group{TenantID: f.t1.ID, Number: "2991", Name: "Reserve", Strategy: store.GroupSimultaneous, RingSeconds: 30}
	mustCreate(t, ctx, st.Groups(), &other)
	if err := st.Groups().Delete(ctx, sbGroup.ID); err != nil {
		t.Fatalf("delete the operators' group: %v", err)
	}
	again := store.Group{TenantID: f.t1.ID, Number: "2990", Name: "Sentralbord", Strategy: store.GroupHunt, RingSeconds: 30}
	if err := st.Groups().Create(ctx, &again); err != nil {
		t.Errorf("group created on the switchboard number: %v", err)
	}

	// Devices: the username defaults to ph + MAC, the secret is generated,
	// different for every device, and valid.
	d1 := store.Device{TenantID: f.t1.ID, MAC: "0004f2000001", Model: "yealink-t54w"}
	mustCreate(t, ctx, st.Devices(), &d1)
	d2 := store.Device{TenantID: f.t2.ID, MAC: "0004f2000002", Model: "yealink-t54w"}
	mustCreate(t, ctx, st.Devices(), &d2)
	if d1.AuthUser != "ph0004f2000001" || d2.AuthUser != "ph0004f2000002" {
		t.Errorf("default usernames %q, %q; want ph + MAC", d1.AuthUser, d2.AuthUser)
	}
	if !store.ValidSecret(d1.Secret) || len(d1.Secret) != store.DeviceSecretLength || d1.Secret == d2.Secret {
		t.Errorf("generated secrets %q and %q: want two different valid ones of %d characters", d1.Secret, d2.Secret, store.DeviceSecretLength)
	}
	stored, err := st.Devices().Find(ctx, 0, d1.MAC)
	if err != nil || stored.Secret != d1.Secret || stored.AuthUser != d1.AuthUser {
		t.Errorf("device read back: user %q secret %q, %v; want %q %q", stored.AuthUser, stored.Secret, err, d1.AuthUser, d1.Secret)
	}

	// An update that carries no secret keeps the stored one; one that
	// carries a secret replaces it. Clearing the username restores the default.
	upd := stored
	upd.Secret, upd.Description, upd.AuthUser = "", "Resepsjonen", "resepsjon"
	mustUpdate(t, ctx, st.Devices(), &upd)
	if upd.Secret != d1.Secret {
		t.Errorf("update without a secret: secret %q, want the stored %q", upd.Secret, d1.Secret)
	}
	if again, _ := st.Devices().Get(ctx, d1.ID); again.Secret != d1.Secret || again.AuthUser != "resepsjon" {
		t.Errorf("after update: user %q secret %q; want resepsjon and the stored secret", again.AuthUser, again.Secret)
	}
	rotated, err := store.NewDeviceSecret()
	if err != nil {
		t.Fatal(err)
	}
	upd.Secret, upd.AuthUser = rotated, ""
	mustUpdate(t, ctx, st.Devices(), &upd)
	if again, _ := st.Devices().Get(ctx, d1.ID); again.Secret != rotated || again.AuthUser != "ph0004f2000001" {
		t.Errorf("after rotation: user %q secret %q; want ph0004f2000001 and %q", again.AuthUser, again.Secret, rotated)
	}

	// A DID moves from an extension to a group in one transaction.
	e := f.ext1[0]
	e.DID = "+4755550001"
	mustUpdate(t, ctx, st.Extensions(), &e)
	err = st.InTx(ctx, func(tx store.Store) error {
		e.DID = ""
		if err := tx.Extensions().Update(ctx, &e); err != nil {
			return err
		}
		g := store.Group{TenantID: f.t1.ID, Number: "2600", Name: "Servicetorget", Strategy: store.GroupHunt, RingSeconds: 20, DID: "+4755550001"}
		return tx.Groups().Create(ctx, &g)
	})
	if err != nil {
		t.Errorf("move a DID from an extension to a group: %v", err)
	}

	// Deleting a trunk deletes its routes and peers: the same name can come
	// back with other lists.
	tr := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp",
		Routes: []string{"+47"}, PeerAddresses: []string{"192.0.2.1"}}
	mustCreate(t, ctx, st.Trunks(), &tr)
	if err := st.Trunks().Delete(ctx, tr.ID); err != nil {
		t.Fatalf("delete trunk: %v", err)
	}
	tr2 := store.Trunk{TenantID: f.t1.ID, Name: "centrex", Mode: store.TrunkPeer, Host: "sbc.example", Port: 5060, Transport: "udp",
		Routes: []string{"+"}, PeerAddresses: []string{"192.0.2.2"}}
	mustCreate(t, ctx, st.Trunks(), &tr2)
	if got, err := st.Trunks().Get(ctx, tr2.ID); err != nil {
		t.Errorf("get re-created trunk: %v", err)
	} else {
		sameEntity(t, "re-created trunk", got, tr2)
	}
}
