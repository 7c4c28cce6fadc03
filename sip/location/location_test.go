package location

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sentralpbx/sentral/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore is an in-memory BindingStore that can be told to fail.
type memStore struct {
	mu    sync.Mutex
	rows  map[string]store.Binding // tenant/number/key
	saves []int                    // size of every Save
	fail  error
}

func newMemStore() *memStore { return &memStore{rows: map[string]store.Binding{}} }

func rowID(tenant int64, number, key string) string {
	return fmt.Sprintf("%d/%s/%s", tenant, number, key)
}

func (m *memStore) Save(_ context.Context, bs []store.Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.saves = append(m.saves, len(bs))
	for _, b := range bs {
		m.rows[rowID(b.TenantID, b.Number, store.BindingKey(b))] = b
	}
	return nil
}

func (m *memStore) Delete(_ context.Context, tenant int64, number string, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, k := range keys {
		delete(m.rows, rowID(tenant, number, k))
	}
	return nil
}

func (m *memStore) DeleteAOR(_ context.Context, tenant int64, number string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for id, b := range m.rows {
		if b.TenantID == tenant && b.Number == number {
			delete(m.rows, id)
		}
	}
	return nil
}

func (m *memStore) ListAOR(ctx context.Context, tenant int64, number string) ([]store.Binding, error) {
	all, err := m.List(ctx, tenant)
	var out []store.Binding
	for _, b := range all {
		if b.Number == number {
			out = append(out, b)
		}
	}
	return out, err
}

func (m *memStore) List(_ context.Context, tenant int64) ([]store.Binding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.Binding
	for _, b := range m.rows {
		if tenant == 0 || b.TenantID == tenant {
			out = append(out, b)
		}
	}
	return out, nil
}

func (m *memStore) Purge(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	n := 0
	for id, b := range m.rows {
		if b.Expires.Before(before) {
			delete(m.rows, id)
			n++
		}
	}
	return n, nil
}

func (m *memStore) setFail(err error) { m.mu.Lock(); m.fail = err; m.mu.Unlock() }

// contacts lists the stored contacts of an AOR, sorted.
func (m *memStore) contacts(tenant int64, number string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, b := range m.rows {
		if b.TenantID == tenant && b.Number == number {
			out = append(out, b.Contact)
		}
	}
	slices.Sort(out)
	return out
}

// reg builds a Contact of a REGISTER: expires in seconds (0 removes).
func reg(contact, callID string, cseq uint32, expires int, q float64) store.Binding {
	return store.Binding{Contact: contact, CallID: callID, CSeq: cseq, Q: q, Expires: time.Time{}.Add(time.Duration(expires) * time.Second),
		Source: "192.0.2.1:5060", Transport: "udp"}
}

func contactsOf(bs []store.Binding) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.Contact)
	}
	return out
}

func TestUpdate(t *testing.T) {
	const tn, num = int64(7), "2001"
	type step struct {
		advance time.Duration // before the step
		add     []store.Binding
		remove  []string
		unreg   *store.Binding // Unregister with this Call-ID and CSeq instead of Update
		wantErr error
		want    []string // Bindings() after the step, in order
	}
	inst := func(b store.Binding, instance string, regID int) store.Binding {
		b.Instance, b.RegID = instance, regID
		return b
	}
	cases := []struct {
		name        string
		maxContacts int
		steps       []step
	}{
		{"add one", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1)}, want: []string{"sip:a@1"}},
		}},
		{"refresh with a higher CSeq", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1)}, want: []string{"sip:a@1"}},
			{advance: 50 * time.Second, add: []store.Binding{reg("sip:a@1", "c1", 2, 60, 1)}, want: []string{"sip:a@1"}},
			{advance: 50 * time.Second, want: []string{"sip:a@1"}}, // would have expired without the refresh
		}},
		{"same Call-ID, same CSeq is out of order", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 5, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:a@1", "c1", 5, 0, 1)}, wantErr: ErrOutOfOrder, want: []string{"sip:a@1"}},
		}},
		{"same Call-ID, lower CSeq is out of order", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 5, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:a@1", "c1", 4, 60, 1)}, wantErr: ErrOutOfOrder, want: []string{"sip:a@1"}},
		}},
		{"another Call-ID replaces whatever its CSeq (the phone rebooted)", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 5, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:a@1", "c2", 1, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:a@1", "c1", 6, 0, 1)}, want: []string{}}, // c1 no longer stored: removes
		}},
		{"expires 0 removes; unknown contacts are ignored", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1), reg("sip:b@1", "c1", 1, 60, 1)}, want: []string{"sip:a@1", "sip:b@1"}},
			{add: []store.Binding{reg("sip:a@1", "c1", 2, 0, 1), reg("sip:zz@1", "c1", 2, 0, 1)}, want: []string{"sip:b@1"}},
		}},
		{"one out-of-order contact aborts the whole request", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 3, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:b@1", "c2", 1, 60, 1), reg("sip:a@1", "c1", 2, 0, 1)}, wantErr: ErrOutOfOrder, want: []string{"sip:a@1"}},
		}},
		{"remove keys unconditionally", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 9, 60, 1), reg("sip:b@1", "c1", 9, 60, 1)}, want: []string{"sip:a@1", "sip:b@1"}},
			{remove: []string{"c:sip:a@1", "c:sip:nope"}, want: []string{"sip:b@1"}},
		}},
		{"too many contacts", 3, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1), reg("sip:b@1", "c1", 1, 60, 1), reg("sip:c@1", "c1", 1, 60, 1), reg("sip:d@1", "c1", 1, 60, 1)},
				wantErr: ErrTooManyContacts, want: []string{}},
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1), reg("sip:b@1", "c1", 1, 60, 1), reg("sip:c@1", "c1", 1, 60, 1)},
				want: []string{"sip:a@1", "sip:b@1", "sip:c@1"}},
			{add: []store.Binding{reg("sip:d@1", "c2", 1, 60, 1)}, wantErr: ErrTooManyContacts, want: []string{"sip:a@1", "sip:b@1", "sip:c@1"}},
			{add: []store.Binding{reg("sip:a@1", "c1", 2, 60, 1), reg("sip:b@1", "c1", 2, 60, 1), reg("sip:c@1", "c1", 2, 60, 1)},
				want: []string{"sip:a@1", "sip:b@1", "sip:c@1"}}, // refreshing at the limit is fine
			{add: []store.Binding{reg("sip:d@1", "c2", 1, 60, 1), reg("sip:a@1", "c1", 3, 0, 1)}, want: []string{"sip:b@1", "sip:c@1", "sip:d@1"}},
			{advance: 61 * time.Second, add: []store.Binding{reg("sip:e@1", "c3", 1, 60, 1)}, want: []string{"sip:e@1"}}, // expired ones do not count
		}},
		{"q descending, then the most recent first", 0, []step{
			{add: []store.Binding{reg("sip:low@1", "c1", 1, 600, 0.5), reg("sip:high@1", "c1", 1, 600, 1), reg("sip:mid@1", "c1", 1, 600, 0.8)},
				want: []string{"sip:high@1", "sip:mid@1", "sip:low@1"}},
			{advance: time.Second, add: []store.Binding{reg("sip:mid2@1", "c2", 1, 600, 0.8)},
				want: []string{"sip:high@1", "sip:mid2@1", "sip:mid@1", "sip:low@1"}},
			{advance: time.Second, add: []store.Binding{reg("sip:mid@1", "c1", 2, 600, 0.8)},
				want: []string{"sip:high@1", "sip:mid@1", "sip:mid2@1", "sip:low@1"}},
		}},
		{"expiry", 0, []step{
			{add: []store.Binding{reg("sip:short@1", "c1", 1, 30, 1), reg("sip:long@1", "c1", 1, 90, 1)}, want: []string{"sip:long@1", "sip:short@1"}},
			{advance: 30 * time.Second, want: []string{"sip:long@1"}},                                               // expires at exactly now: gone
			{add: []store.Binding{reg("sip:short@1", "c1", 1, 30, 1)}, want: []string{"sip:short@1", "sip:long@1"}}, // an expired binding imposes no CSeq
			{advance: 61 * time.Second, want: []string{}},
		}},
		{"instance and reg-id identify the binding (RFC 5626)", 0, []step{
			{add: []store.Binding{inst(reg("sip:a@10.0.0.1:5060", "c1", 1, 60, 1), "<urn:uuid:x>", 1)}, want: []string{"sip:a@10.0.0.1:5060"}},
			{add: []store.Binding{inst(reg("sip:a@10.0.0.9:7000", "c2", 1, 60, 1), "<urn:uuid:x>", 1)}, want: []string{"sip:a@10.0.0.9:7000"}},
			{advance: time.Second, add: []store.Binding{inst(reg("sip:a@10.0.0.9:7000", "c2", 2, 60, 1), "<urn:uuid:x>", 2)},
				want: []string{"sip:a@10.0.0.9:7000", "sip:a@10.0.0.9:7000"}},
		}},
		{"invalid bindings change nothing", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 1, 60, 1)}, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("sip:b@1", "c1", 2, 60, 1.5)}, wantErr: ErrInvalidBinding, want: []string{"sip:a@1"}},
			{add: []store.Binding{reg("", "c1", 2, 60, 1)}, wantErr: ErrInvalidBinding, want: []string{"sip:a@1"}},
			{add: []store.Binding{{Number: "2002", Contact: "sip:x@1", CallID: "c1", CSeq: 3, Q: 1, Expires: time.Time{}.Add(time.Hour)}},
				wantErr: ErrInvalidBinding, want: []string{"sip:a@1"}},
		}},
		{"Contact: * (Unregister)", 0, []step{
			{add: []store.Binding{reg("sip:a@1", "c1", 5, 60, 1), reg("sip:b@1", "c2", 1, 60, 1)}, want: []string{"sip:a@1", "sip:b@1"}},
			{unreg: &store.Binding{CallID: "c1", CSeq: 5}, wantErr: ErrOutOfOrder, want: []string{"sip:a@1", "sip:b@1"}},
			{unreg: &store.Binding{CallID: "c1", CSeq: 6}, want: []string{}},
			{unreg: &store.Binding{CallID: "c9", CSeq: 1}, want: []string{}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := New(newMemStore(), zaptest.NewLogger(t), Options{Now: clk.Now, MaxContacts: tc.maxContacts, Node: "n1"})
			for i, st := range tc.steps {
				clk.Add(st.advance)
				var got []store.Binding
				var err error
				if st.unreg != nil {
					err = s.Unregister(tn, num, st.unreg.CallID, st.unreg.CSeq)
				} else if st.add != nil || st.remove != nil {
					add := make([]store.Binding, len(st.add))
					for j, b := range st.add {
						if !b.Expires.IsZero() { // relative seconds -> absolute
							b.Expires = clk.Now().Add(b.Expires.Sub(time.Time{}))
						}
						add[j] = b
					}
					got, err = s.Update(tn, num, add, st.remove)
				}
				if !errors.Is(err, st.wantErr) || (err != nil) != (st.wantErr != nil) {
					t.Fatalf("step %d: error %v, want %v", i, err, st.wantErr)
				}
				now := contactsOf(s.Bindings(tn, num))
				if !slices.Equal(now, st.want) {
					t.Errorf("step %d: Bindings() = %q, want %q", i, now, st.want)
				}
				if err == nil && st.unreg == nil && (st.add != nil || st.remove != nil) && !slices.Equal(contactsOf(got), st.want) {
					t.Errorf("step %d: Update returned %q, want %q", i, contactsOf(got), st.want)
				}
				if c := s.Count(); c != len(st.want) {
					t.Errorf("step %d: Count() = %d, want %d", i, c, len(st.want))
				}
				for _, b := range s.Bindings(tn, num) {
					if b.TenantID != tn || b.Number != num || b.Node != "n1" || !b.UpdatedAt.After(time.Time{}) || b.Expires.Location() != time.UTC {
						t.Errorf("step %d: binding not completed: %+v", i, b)
					}
				}
			}
		})
	}
}

func TestAllAndOnChange(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var events []string
	s := New(newMemStore(), zaptest.NewLogger(t), Options{Now: clk.Now, OnChange: func(tn int64, num string, bs []store.Binding) {
		mu.Lock()
		events = append(events, fmt.Sprintf("%d/%s:%s", tn, num, strings.Join(contactsOf(bs), ",")))
		mu.Unlock()
	}})
	exp := func(sec int) time.Time { return clk.Now().Add(time.Duration(sec) * time.Second) }
	mustUpdate := func(tn int64, num string, add ...store.Binding) {
		t.Helper()
		for i := range add {
			add[i].Expires = exp(int(add[i].Expires.Sub(time.Time{}) / time.Second))
		}
		if _, err := s.Update(tn, num, add, nil); err != nil {
			t.Fatalf("Update %d/%s: %v", tn, num, err)
		}
	}
	mustUpdate(2, "10", reg("sip:x@1", "c", 1, 60, 1))
	mustUpdate(1, "200", reg("sip:y@1", "c", 1, 60, 1))
	mustUpdate(1, "30", reg("sip:z@1", "c", 1, 30, 1), reg("sip:w@1", "c", 1, 60, 0.5))
	if _, err := s.Update(1, "30", nil, []string{"c:sip:none"}); err != nil { // no change: no event
		t.Fatal(err)
	}
	if got := contactsOf(s.All(0)); !slices.Equal(got, []string{"sip:z@1", "sip:w@1", "sip:y@1", "sip:x@1"}) {
		t.Errorf("All(0) = %q", got)
	}
	if got := contactsOf(s.All(2)); !slices.Equal(got, []string{"sip:x@1"}) {
		t.Errorf("All(2) = %q", got)
	}
	clk.Add(45 * time.Second)
	s.purge(t.Context())
	s.RemoveAll(2, "10")
	s.RemoveAll(2, "10") // nothing left: no event
	want := []string{"2/10:sip:x@1", "1/200:sip:y@1", "1/30:sip:z@1,sip:w@1", "1/30:sip:w@1", "2/10:"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, want) {
		t.Errorf("OnChange events:\n got %q\nwant %q", events, want)
	}
}

// TestFlush drives flush directly against a store that fails on demand.
func TestFlush(t *testing.T) {
	clk := newClock()
	ms := newMemStore()
	s := New(ms, zaptest.NewLogger(t), Options{Now: clk.Now, MaxBatch: 3})
	ctx := t.Context()
	for i := range 7 {
		b := reg(fmt.Sprintf("sip:%d@1", i), "c", 1, 0, 1)
		b.Expires = clk.Now().Add(time.Hour)
		if _, err := s.Update(1, fmt.Sprint(100+i%2), []store.Binding{b}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(ctx, true); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if n := len(ms.rows); n != 7 {
		t.Errorf("after flush: %d rows, want 7", n)
	}
	if !slices.Equal(ms.saves, []int{3, 3, 1}) {
		t.Errorf("Save batch sizes %v, want [3 3 1] (MaxBatch 3)", ms.saves)
	}
	if err := s.flush(ctx, true); err != nil || len(ms.saves) != 3 {
		t.Errorf("flush with nothing dirty: %v, %d saves; want no Save", err, len(ms.saves))
	}

	// While the store fails, changes stay pending and are retried.
	ms.setFail(errors.New("database is down"))
	if _, err := s.Update(1, "100", nil, []string{"c:sip:0@1"}); err != nil {
		t.Fatal(err)
	}
	s.RemoveAll(1, "101")
	b := reg("sip:new@1", "c", 1, 0, 1)
	b.Expires = clk.Now().Add(time.Hour)
	if _, err := s.Update(1, "102", []store.Binding{b}, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.flush(ctx, true); err == nil {
			t.Fatal("flush against a failing store: no error")
		}
	}
	ms.setFail(nil)
	if err := s.flush(ctx, true); err != nil {
		t.Fatalf("flush after recovery: %v", err)
	}
	for num, want := range map[string][]string{"100": {"sip:2@1", "sip:4@1", "sip:6@1"}, "101": nil, "102": {"sip:new@1"}} {
		if got := ms.contacts(1, num); !slices.Equal(got, want) {
			t.Errorf("stored %s after recovery: %q, want %q", num, got, want)
		}
	}
}

func TestLoadSkipsExpired(t *testing.T) {
	clk := newClock()
	ms := newMemStore()
	now := clk.Now()
	for i, d := range []time.Duration{-time.Second, 0, time.Second, time.Hour} {
		b := store.Binding{TenantID: 1, Number: "100", Contact: fmt.Sprintf("sip:%d@1", i), Q: 1, Expires: now.Add(d), UpdatedAt: now.Add(time.Duration(i) * time.Millisecond)}
		ms.rows[rowID(1, "100", store.BindingKey(b))] = b
	}
	s := New(ms, zaptest.NewLogger(t), Options{Now: clk.Now})
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := contactsOf(s.Bindings(1, "100")); !slices.Equal(got, []string{"sip:3@1", "sip:2@1"}) {
		t.Errorf("after Load: %q, want the two unexpired, most recent first", got)
	}
	ms.setFail(errors.New("boom"))
	if err := New(ms, nil, Options{}).Load(t.Context()); err == nil {
		t.Error("Load from a failing store: no error")
	}
}

func TestRunTwice(t *testing.T) {
	s := New(newMemStore(), zaptest.NewLogger(t), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- s.Run(ctx) }()
	}
	if err := <-errs; err == nil {
		t.Error("one of two Runs: want an error at once, got nil")
	}
	cancel()
	if err := <-errs; err != nil {
		t.Errorf("the other Run: %v", err)
	}
}

// TestRefreshesWrittenLater checks which re-REGISTERs wait for the
// refresh write: only plain refreshes whose stored expiry stays valid for
// two refresh intervals; anything else is written on the next flush.
func TestRefreshesWrittenLater(t *testing.T) {
	clk := newClock()
	ms := newMemStore()
	s := New(ms, zaptest.NewLogger(t), Options{Now: clk.Now, RefreshInterval: 30 * time.Second})
	ctx := t.Context()
	stored := func(contact string) store.Binding {
		t.Helper()
		ms.mu.Lock()
		defer ms.mu.Unlock()
		b, ok := ms.rows[rowID(1, "100", "c:"+contact)]
		if !ok {
			t.Fatalf("%s not in the store", contact)
		}
		return b
	}
	register := func(b store.Binding, expires time.Duration) {
		t.Helper()
		b.Expires = clk.Now().Add(expires)
		if _, err := s.Update(1, "100", []store.Binding{b}, nil); err != nil {
			t.Fatal(err)
		}
	}
	long, short := reg("sip:long@1", "a", 1, 0, 1), reg("sip:short@1", "b", 1, 0, 1)
	register(long, time.Hour)
	register(short, 90*time.Second)
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	firstLong := stored("sip:long@1").Expires
	firstShort := stored("sip:short@1").Expires

	clk.Add(10 * time.Second)
	long.CSeq, short.CSeq = 2, 2
	register(long, time.Hour)       // stored expiry 50 min away: waits
	register(short, 90*time.Second) // stored expiry 80 s away, under 2x30 s? no: waits too
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := stored("sip:long@1"); !got.Expires.Equal(firstLong) || got.CSeq != 1 {
		t.Errorf("plain refresh written before the refresh write: expires %v cseq %d", got.Expires, got.CSeq)
	}
	if got := stored("sip:short@1"); !got.Expires.Equal(firstShort) {
		t.Errorf("refresh of a binding stored for 80 s more written at once: %v", got.Expires)
	}
	// Some phones start a new Call-ID for every refresh: still a refresh.
	long.CallID, long.CSeq = "a2", 1
	register(long, time.Hour)
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := stored("sip:long@1"); got.CallID != "a" {
		t.Errorf("refresh with a new Call-ID written at once: %+v", got)
	}
	long.CallID, long.CSeq = "a", 2

	clk.Add(30 * time.Second) // stored short expiry now 50 s away: under two intervals
	short.CSeq = 3
	register(short, 90*time.Second)
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := stored("sip:short@1"); got.CSeq != 3 || !got.Expires.Equal(clk.Now().Add(90*time.Second).UTC()) {
		t.Errorf("refresh near the stored expiry not written at once: cseq %d expires %v", got.CSeq, got.Expires)
	}

	// A refresh from a new source address is a change, written at once.
	long.CSeq, long.Source = 3, "192.0.2.9:5060"
	register(long, time.Hour)
	if err := s.flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := stored("sip:long@1"); got.Source != "192.0.2.9:5060" {
		t.Errorf("moved binding not written at once: source %s", got.Source)
	}

	// The refresh write carries the newest plain refresh.
	clk.Add(time.Second)
	long.CSeq = 4
	register(long, time.Hour)
	if err := s.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := stored("sip:long@1"); got.CSeq != 4 || !got.Expires.Equal(clk.Now().Add(time.Hour).UTC()) {
		t.Errorf("refresh write: cseq %d expires %v, want 4 and an hour from now", got.CSeq, got.Expires)
	}

	// Unregistering after a pending refresh deletes the row.
	clk.Add(time.Second)
	long.CSeq = 5
	register(long, time.Hour)
	long.CSeq = 6
	register(long, 0)
	if err := s.flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := ms.contacts(1, "100"); !slices.Equal(got, []string{"sip:short@1"}) {
		t.Errorf("after unregister: stored %q, want only sip:short@1", got)
	}
}
