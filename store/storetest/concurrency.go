package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sentralpbx/sentral/store"
)

// The concurrency tests use two handles on one database, as two processes
// (or two admins) would. No error other than ErrConflict, where a test says
// so, is tolerated: a back end that lets "database is locked" or a
// serialization failure escape pushes its retry loop onto every caller.
func testConcurrency(t *testing.T, h Harness) {
	t.Run("stale update across handles gets ErrConflict", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		st2 := reopen(t)
		id := f.ext1[0].ID
		a, err := st.Extensions().Get(ctx, id)
		if err != nil {
			t.Fatalf("Get on handle 1: %v", err)
		}
		b, err := st2.Extensions().Get(ctx, id)
		if err != nil {
			t.Fatalf("Get on handle 2: %v", err)
		}
		a.DisplayName = "from handle 1"
		if err := st.Extensions().Update(ctx, &a); err != nil {
			t.Fatalf("first Update: %v", err)
		}
		b.DisplayName = "from handle 2"
		if err := st2.Extensions().Update(ctx, &b); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second Update with the version both read: got %v, want store.ErrConflict", err)
		}
		got, err := st2.Extensions().Get(ctx, id)
		if err != nil || got.DisplayName != "from handle 1" || got.Version != 2 {
			t.Errorf("after the race: %q version %d, %v; want \"from handle 1\" version 2", got.DisplayName, got.Version, err)
		}
	})

	t.Run("simultaneous updates: exactly one wins", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		handles := []store.Store{st, reopen(t)}
		id := f.ext1[0].ID
		const rounds = 20
		for round := 0; round < rounds; round++ {
			vals := make([]store.Extension, len(handles))
			for i, s := range handles {
				v, err := s.Extensions().Get(ctx, id)
				if err != nil {
					t.Fatalf("round %d: Get on handle %d: %v", round, i+1, err)
				}
				vals[i] = v
			}
			errs := make([]error, len(handles))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, s := range handles {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					vals[i].DisplayName = fmt.Sprintf("round %d handle %d", round, i+1)
					errs[i] = s.Extensions().Update(ctx, &vals[i])
				}()
			}
			close(start)
			wg.Wait()
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("round %d handle %d: Update error %v, want nil or store.ErrConflict", round, i+1, err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d of %d simultaneous updates of version %d succeeded, want exactly 1 (errors %v)",
					round, wins, len(handles), vals[0].Version, errs)
			}
		}
		got, err := st.Extensions().Get(ctx, id)
		if err != nil || got.Version != 1+rounds {
			t.Errorf("after %d rounds: version %d, %v; want %d", rounds, got.Version, err, 1+rounds)
		}
	})

	t.Run("read-modify-write counter loses no update", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		f := newFixture(t, ctx, st)
		handles := []store.Store{st, reopen(t)}
		d := store.Department{TenantID: f.t1.ID, Code: "COUNTER", Name: "0"}
		mustCreate(t, ctx, st.Departments(), &d)
		seq := lastChange(t, ctx, st)

		const workers, increments = 8, 25
		var conflicts atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := handles[w%len(handles)]
				for i := 0; i < increments; i++ {
					for {
						if ctx.Err() != nil {
							errc <- fmt.Errorf("worker %d: gave up at increment %d: %w", w, i, ctx.Err())
							return
						}
						cur, err := s.Departments().Get(ctx, d.ID)
						if err != nil {
							errc <- fmt.Errorf("worker %d: Get: %w", w, err)
							return
						}
						n, err := strconv.Atoi(cur.Name)
						if err != nil {
							errc <- fmt.Errorf("worker %d: counter %q is not a number", w, cur.Name)
							return
						}
						cur.Name = strconv.Itoa(n + 1)
						err = s.Departments().Update(ctx, &cur)
						if err == nil {
							break
						}
						if !errors.Is(err, store.ErrConflict) {
							errc <- fmt.Errorf("worker %d: Update: %w (only ErrConflict may be retried)", w, err)
							return
						}
						conflicts.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		got, err := st.Departments().Get(ctx, d.ID)
		if err != nil {
			t.Fatalf("Get counter: %v", err)
		}
		if want := strconv.Itoa(workers * increments); got.Name != want || got.Version != workers*increments+1 {
			t.Errorf("counter = %s at version %d, want %s at version %d (lost updates)", got.Name, got.Version, want, workers*increments+1)
		}
		updates := 0
		for _, c := range changesSince(t, ctx, st, seq) {
			if c.Entity == store.EntityDepartment && c.EntityID == d.ID && c.Op == store.OpUpdate {
				updates++
			}
		}
		if updates != workers*increments {
			t.Errorf("%d update changes logged for the counter, want %d", updates, workers*increments)
		}
		t.Logf("%d×%d increments through 2 handles: %d conflicts retried", workers, increments, conflicts.Load())
	})

	t.Run("concurrent creates through both handles all land", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		handles := []store.Store{st, reopen(t)}
		tn := mustTenant(t, ctx, st, "samtidig", "5000-5999")
		seq := lastChange(t, ctx, st)

		const workers, each = 8, 10
		var wg sync.WaitGroup
		errc := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := handles[w%len(handles)]
				for i := 0; i < each; i++ {
					e := store.Extension{TenantID: tn.ID, Number: strconv.Itoa(5000 + w*each + i), DisplayName: "c", COS: store.COSInternal}
					// No retry: distinct rows do not conflict, and busy or
					// serialization errors must be handled inside the store.
					if err := s.Extensions().Create(ctx, &e); err != nil {
						errc <- fmt.Errorf("worker %d: Create %s: %w", w, e.Number, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		exts, err := st.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(exts) != workers*each {
			t.Errorf("%d extensions listed, want %d", len(exts), workers*each)
		}
		for i, e := range exts {
			if want := strconv.Itoa(5000 + i); e.Number != want {
				t.Errorf("extension %d is %s, want %s", i, e.Number, want)
				break
			}
		}
		cs := changesSince(t, ctx, st, seq)
		seen := map[int64]bool{}
		for i, c := range cs {
			if i > 0 && c.Seq <= cs[i-1].Seq {
				t.Errorf("change Seq %d follows %d", c.Seq, cs[i-1].Seq)
			}
			seen[c.EntityID] = true
		}
		if len(cs) != workers*each || len(seen) != workers*each {
			t.Errorf("%d changes for %d distinct ids logged, want %d for %d", len(cs), len(seen), workers*each, workers*each)
		}
	})

	t.Run("simultaneous creates of one number: exactly one wins", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		handles := []store.Store{st, reopen(t)}
		tn := mustTenant(t, ctx, st, "samtidig", "5000-5999")
		const workers = 8
		errs := make([]error, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				e := store.Extension{TenantID: tn.ID, Number: "5999", DisplayName: fmt.Sprint(w), COS: store.COSInternal}
				errs[w] = handles[w%len(handles)].Extensions().Create(ctx, &e)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for w, err := range errs {
			switch {
			case err == nil:
				wins++
			default:
				wantErr(t, fmt.Sprintf("worker %d creating the taken number", w), err, kinds(store.ErrExists), "number")
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d creates of number 5999 succeeded, want exactly 1", wins, workers)
		}
		if exts, err := st.Extensions().List(ctx, store.ListOptions{TenantID: tn.ID}); err != nil || len(exts) != 1 {
			t.Errorf("List: %d extensions, %v; want 1", len(exts), err)
		}
	})
	// The next three need the store to serialize its invariant checks with
	// the writes they guard: a unique index cannot see that a group and an
	// extension share a number, nor that two ranges overlap, and a change
	// log read by Seq must not have a lower Seq commit after a higher one.
	t.Run("simultaneous extension and group on one number: exactly one wins", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		handles := []store.Store{st, reopen(t)}
		tn := mustTenant(t, ctx, st, "samtidig", "5000-5999")
		const rounds = 25
		for r := 0; r < rounds; r++ {
			number := strconv.Itoa(5000 + r)
			var errE, errG error
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				e := store.Extension{TenantID: tn.ID, Number: number, DisplayName: "e", COS: store.COSInternal}
				errE = handles[0].Extensions().Create(ctx, &e)
			}()
			go func() {
				defer wg.Done()
				<-start
				g := store.Group{TenantID: tn.ID, Number: number, Name: "g", Strategy: store.GroupHunt, RingSeconds: 20}
				errG = handles[1].Groups().Create(ctx, &g)
			}()
			close(start)
			wg.Wait()
			switch {
			case errE == nil && errG == nil:
				t.Errorf("round %d: an extension and a group both got number %s", r, number)
			case errE != nil && errG != nil:
				t.Errorf("round %d: both refused number %s: extension %v; group %v", r, number, errE, errG)
			case errE != nil:
				wantErr(t, fmt.Sprintf("round %d: extension losing to a group", r), errE, kinds(store.ErrExists), "number")
			default:
				wantErr(t, fmt.Sprintf("round %d: group losing to an extension", r), errG, kinds(store.ErrExists), "number")
			}
		}
	})

	t.Run("simultaneous tenants with overlapping ranges: exactly one wins", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		handles := []store.Store{st, reopen(t)}
		for r := 0; r < 10; r++ {
			ranges := []string{fmt.Sprintf("7%d00-7%d49", r, r), fmt.Sprintf("7%d40-7%d99", r, r)}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					name := fmt.Sprintf("t%d%c", r, 'a'+i)
					tn := store.Tenant{Name: name, DisplayName: name, Domain: name + ".example.net",
						Ranges: []store.NumberRange{extRange(ranges[i])}}
					errs[i] = handles[i].Tenants().Create(ctx, &tn)
				}()
			}
			close(start)
			wg.Wait()
			switch {
			case errs[0] == nil && errs[1] == nil:
				t.Errorf("round %d: overlapping ranges %v both accepted", r, ranges)
			case errs[0] != nil && errs[1] != nil:
				t.Errorf("round %d: both tenants refused: %v; %v", r, errs[0], errs[1])
			default:
				loser := errs[0]
				if loser == nil {
					loser = errs[1]
				}
				wantErr(t, fmt.Sprintf("round %d: losing tenant", r), loser, rangeKinds, "ranges")
			}
		}
	})

	t.Run("Watch under concurrent writers misses nothing", func(t *testing.T) {
		ctx, st, reopen := open(t, h)
		st2 := reopen(t)
		handles := []store.Store{st, st2}
		tn := mustTenant(t, ctx, st, "samtidig", "5000-5999")
		from := lastChange(t, ctx, st)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := st2.Watch(wctx, from)

		const workers, each = 8, 10
		var wg sync.WaitGroup
		errc := make(chan error, workers*each)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					d := store.Department{TenantID: tn.ID, Code: fmt.Sprintf("w%d-%d", w, i), Name: "x"}
					if err := handles[w%2].Departments().Create(ctx, &d); err != nil {
						errc <- fmt.Errorf("worker %d: %w", w, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		logged := changesSince(t, ctx, st, from)
		var got []store.Change
		for len(got) < len(logged) {
			c, ok := receive(t, ch)
			if !ok {
				break
			}
			got = append(got, c)
		}
		if len(logged) != workers*each {
			t.Errorf("%d changes logged, want %d", len(logged), workers*each)
		}
		for i := range got {
			if i < len(logged) && got[i].Seq != logged[i].Seq {
				t.Errorf("watched change %d has Seq %d, the log has %d there (a change committed out of Seq order was skipped?)", i, got[i].Seq, logged[i].Seq)
				break
			}
		}
	})
}
