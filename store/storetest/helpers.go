package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
)

// timeSlack is how far a timestamp read back may be from the one Create or
// Update put on the value: databases keep microseconds at best, so exact
// equality would test the clock rather than the store; a zero, shifted or
// never-persisted time is still caught.
const timeSlack = time.Millisecond

func ptr[T any](v T) *T { return &v }

func extRange(s string) store.NumberRange {
	return store.NumberRange{Kind: store.RangeExtension, First: first(s), Last: last(s)}
}

func didRange(s string) store.NumberRange {
	return store.NumberRange{Kind: store.RangeDID, First: first(s), Last: last(s)}
}

func first(s string) string { a, _, _ := strings.Cut(s, "-"); return a }
func last(s string) string {
	if _, b, ok := strings.Cut(s, "-"); ok {
		return b
	}
	return s
}

// fixture is a small municipal set-up shared by most tests: two tenants,
// each with a site, a department, a person, three extensions and a DECT
// gateway, so that child entities have parents of their own tenant and of
// a foreign one.
type fixture struct {
	t1, t2       store.Tenant
	site1, site2 store.Site
	dep1, dep2   store.Department
	per1, per2   store.Person
	ext1, ext2   []store.Extension
	gw1, gw2     store.DECTGateway
}

func newFixture(t *testing.T, ctx context.Context, st store.Store) *fixture {
	t.Helper()
	f := &fixture{}
	f.t1 = mustTenant(t, ctx, st, "fjordvik", "2000-2999", "+4755550000-+4755550999")
	f.t2 = mustTenant(t, ctx, st, "bergvik", "3000-3999", "+4755560000-+4755560999")
	for _, x := range []struct {
		tn   store.Tenant
		site *store.Site
		dep  *store.Department
		per  *store.Person
		ext  *[]store.Extension
		gw   *store.DECTGateway
		base int
	}{
		{f.t1, &f.site1, &f.dep1, &f.per1, &f.ext1, &f.gw1, 2000},
		{f.t2, &f.site2, &f.dep2, &f.per2, &f.ext2, &f.gw2, 3000},
	} {
		*x.site = store.Site{TenantID: x.tn.ID, Name: "Rådhuset", Address: "Storgata 1", DID: fmt.Sprintf("+47555%d0000", 3+x.base/1000)} // inside the tenant's DID block
		mustCreate(t, ctx, st.Sites(), x.site)
		*x.dep = store.Department{TenantID: x.tn.ID, Code: "1000", Name: "Sentraladministrasjonen"}
		mustCreate(t, ctx, st.Departments(), x.dep)
		*x.per = store.Person{TenantID: x.tn.ID, GivenName: "Åse", FamilyName: "Ødegård", Email: "ase@" + x.tn.Domain, Visibility: store.VisibilityListed}
		mustCreate(t, ctx, st.People(), x.per)
		for i := 1; i <= 3; i++ {
			e := store.Extension{TenantID: x.tn.ID, Number: fmt.Sprint(x.base + i), DisplayName: fmt.Sprintf("Ext %d", x.base+i), COS: store.COSNational, Enabled: true}
			mustCreate(t, ctx, st.Extensions(), &e)
			*x.ext = append(*x.ext, e)
		}
		*x.gw = store.DECTGateway{TenantID: x.tn.ID, Name: "dect-main", Mode: store.DECTRegister}
		mustCreate(t, ctx, st.DECTGateways(), x.gw)
	}
	return f
}

// mustTenant creates a tenant named name (domain name.example.net) with the
// given extension range and optional DID range.
func mustTenant(t *testing.T, ctx context.Context, st store.Store, name, ext string, did ...string) store.Tenant {
	t.Helper()
	tn := store.Tenant{Name: name, DisplayName: strings.ToUpper(name[:1]) + name[1:] + " kommune", Domain: name + ".example.net",
		Ranges: []store.NumberRange{extRange(ext)}}
	for _, d := range did {
		tn.Ranges = append(tn.Ranges, didRange(d))
	}
	mustCreate(t, ctx, st.Tenants(), &tn)
	return tn
}

func mustCreate[T any](t *testing.T, ctx context.Context, r store.Repo[T], v *T) {
	t.Helper()
	if err := r.Create(ctx, v); err != nil {
		t.Fatalf("create %T %+v: %v", *v, *v, err)
	}
}

func mustUpdate[T any](t *testing.T, ctx context.Context, r store.Repo[T], v *T) {
	t.Helper()
	if err := r.Update(ctx, v); err != nil {
		t.Fatalf("update %T %+v: %v", *v, *v, err)
	}
}

func meta(v any) *store.Meta {
	e, ok := v.(store.Entry)
	if !ok {
		panic(fmt.Sprintf("%T does not embed store.Meta", v))
	}
	return e.M()
}

// wantErr checks err has the given kind (any of kinds) and is, or wraps, a
// *store.FieldError naming one of fields. Listing several kinds or fields
// is for rules the contract leaves open (such as ErrInvalid or ErrExists
// for a range clash); each call site says why.
func wantErr(t *testing.T, what string, err error, kinds []error, fields ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, kinds)
		return
	}
	kindOK := false
	for _, k := range kinds {
		if errors.Is(err, k) {
			kindOK = true
		}
	}
	if !kindOK {
		t.Errorf("%s: got error %q, want errors.Is one of %v", what, err, kinds)
	}
	var fe *store.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%s: error %q (%T) is not a *store.FieldError, want Field %v", what, err, err, fields)
		return
	}
	for _, f := range fields {
		if fe.Field == f {
			return
		}
	}
	t.Errorf("%s: FieldError names Field %q (entity %q, reason %q), want %v", what, fe.Field, fe.Entity, fe.Reason, fields)
}

func kinds(k ...error) []error { return k }

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got error %v, want store.ErrNotFound", what, err)
	}
}

// sameEntity compares two stored values field by field and reports every
// difference by name. Timestamps may differ by timeSlack; an empty slice
// equals a nil one (JSON and SQL do not tell them apart), but a nil pointer
// never equals a set one.
func sameEntity(t *testing.T, what string, got, want any) {
	t.Helper()
	if diffs := diffValue("", reflect.ValueOf(got), reflect.ValueOf(want)); len(diffs) > 0 {
		t.Errorf("%s (%T):\n\t%s", what, got, strings.Join(diffs, "\n\t"))
	}
}

var timeType = reflect.TypeOf(time.Time{})

func diffValue(path string, g, w reflect.Value) []string {
	if g.Type() != w.Type() {
		return []string{fmt.Sprintf("%s: type %s, want %s", path, g.Type(), w.Type())}
	}
	switch {
	case g.Type() == timeType:
		gt, wt := g.Interface().(time.Time), w.Interface().(time.Time)
		if gt.IsZero() {
			return []string{fmt.Sprintf("%s: zero time, want %s", path, wt)}
		}
		if d := gt.Sub(wt); d > timeSlack || d < -timeSlack {
			return []string{fmt.Sprintf("%s: %s, want %s (off by %s)", path, gt, wt, d)}
		}
		return nil
	case g.Kind() == reflect.Struct:
		var diffs []string
		for i := 0; i < g.NumField(); i++ {
			name := g.Type().Field(i).Name
			p := name
			if path != "" {
				p = path + "." + name
			}
			diffs = append(diffs, diffValue(p, g.Field(i), w.Field(i))...)
		}
		return diffs
	case g.Kind() == reflect.Pointer:
		switch {
		case g.IsNil() && w.IsNil():
			return nil
		case g.IsNil():
			return []string{fmt.Sprintf("%s: nil, want %v", path, w.Elem())}
		case w.IsNil():
			return []string{fmt.Sprintf("%s: %v, want nil", path, g.Elem())}
		}
		return diffValue(path, g.Elem(), w.Elem())
	case g.Kind() == reflect.Slice:
		if g.Len() == 0 && w.Len() == 0 {
			return nil
		}
		if gr, ok := g.Interface().([]store.NumberRange); ok {
			// A numbering plan is a set of ranges: the store may keep them
			// in any order, but must keep every one of them.
			gs, ws := sortedRanges(gr), sortedRanges(w.Interface().([]store.NumberRange))
			if !reflect.DeepEqual(gs, ws) {
				return []string{fmt.Sprintf("%s: %v, want %v (in any order)", path, gs, ws)}
			}
			return nil
		}
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			return []string{fmt.Sprintf("%s: %+v, want %+v", path, g.Interface(), w.Interface())}
		}
		return nil
	default:
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			return []string{fmt.Sprintf("%s: %#v, want %#v", path, g.Interface(), w.Interface())}
		}
		return nil
	}
}

// changesSince returns every change after seq, failing the test on error.
func changesSince(t *testing.T, ctx context.Context, st store.Store, seq int64) []store.Change {
	t.Helper()
	cs, err := st.Changes(ctx, seq, 10000)
	if err != nil {
		t.Fatalf("Changes(%d): %v", seq, err)
	}
	return cs
}

func lastChange(t *testing.T, ctx context.Context, st store.Store) int64 {
	t.Helper()
	seq, err := st.LastChange(ctx)
	if err != nil {
		t.Fatalf("LastChange: %v", err)
	}
	return seq
}

// wantChange checks that exactly one change was logged after seq and that
// it describes the given write.
func wantChange(t *testing.T, ctx context.Context, st store.Store, seq int64, what string, want store.Change) {
	t.Helper()
	cs := changesSince(t, ctx, st, seq)
	if len(cs) != 1 {
		t.Errorf("%s: %d changes logged, want exactly 1: %+v", what, len(cs), cs)
		return
	}
	c := cs[0]
	if c.Entity != want.Entity || c.Op != want.Op || c.EntityID != want.EntityID || c.Key != want.Key || c.TenantID != want.TenantID {
		t.Errorf("%s: change {entity %s op %s id %d key %q tenant %d}, want {entity %s op %s id %d key %q tenant %d}",
			what, c.Entity, c.Op, c.EntityID, c.Key, c.TenantID, want.Entity, want.Op, want.EntityID, want.Key, want.TenantID)
	}
	if c.Seq <= seq {
		t.Errorf("%s: change Seq %d, want > %d", what, c.Seq, seq)
	}
	if c.At.IsZero() {
		t.Errorf("%s: change At is zero", what)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sortedRanges(rs []store.NumberRange) []store.NumberRange {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b store.NumberRange) int {
		return strings.Compare(string(a.Kind)+" "+a.First+" "+a.Last, string(b.Kind)+" "+b.First+" "+b.Last)
	})
	return out
}
