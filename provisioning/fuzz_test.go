package provisioning

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

var (
	macRe  = regexp.MustCompile(`^[0-9a-f]{12}$`)
	ipuiRe = regexp.MustCompile(`^[0-9A-F]{10}$`)
	didRe  = regexp.MustCompile(`^\+[0-9]{8,15}$`)
)

// Normalisers must produce canonical output and be idempotent: feeding a
// normalised value back must return it unchanged, or lookups by the
// normalised key would miss.
func FuzzNormalizers(f *testing.F) {
	for _, s := range []string{"00:15:65:AA:BB:CC", "00-15-65-aa-bb-cc", "001565aabbcc", "0328D3C918", "0x0328d3c918",
		"55550000", "+4755550000", "004755550000", "Fjordvik.Kommune.NO", "æøå", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := NormalizeMAC("MAC", s); err == nil {
			if !macRe.MatchString(m) {
				t.Fatalf("MAC %q -> %q", s, m)
			}
			if again, err := NormalizeMAC("MAC", m); err != nil || again != m {
				t.Fatalf("MAC %q not idempotent: %q, %v", m, again, err)
			}
		}
		if v, err := NormalizeIPUI("IPUI", s); err == nil {
			if !ipuiRe.MatchString(v) {
				t.Fatalf("IPUI %q -> %q", s, v)
			}
			if again, err := NormalizeIPUI("IPUI", v); err != nil || again != v {
				t.Fatalf("IPUI %q not idempotent: %q, %v", v, again, err)
			}
		}
		if v, err := CheckDID("--did", s); err == nil && v != "" {
			if !didRe.MatchString(v) {
				t.Fatalf("DID %q -> %q", s, v)
			}
			if again, err := CheckDID("--did", v); err != nil || again != v {
				t.Fatalf("DID %q not idempotent: %q, %v", v, again, err)
			}
		}
		if v, err := CheckDomain("--domain", s); err == nil {
			if again, err := CheckDomain("--domain", v); err != nil || again != v {
				t.Fatalf("domain %q not idempotent: %q, %v", v, again, err)
			}
		}
	})
}

// Whatever the file holds, the CSV reader returns rows or located errors,
// never panics, and never locates an error outside the file.
func FuzzParseImport(f *testing.F) {
	f.Add([]byte("number,name\n2001,Kari Nordmann\n"))
	f.Add([]byte("\ufeffnumber;name;cos\n2001;Åse;mobile\n"))
	f.Add([]byte("number,name\n2001,\"unterminated\n"))
	f.Add([]byte("name\nKari\n"))
	f.Add([]byte("number,name,bogus\n2001,x,y\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs := parseImport(bytes.NewReader(data))
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range errs {
			if e.Row < 1 || e.Row > lines+1 || e.Reason == "" {
				t.Fatalf("error %+v outside a %d-line file", e, lines)
			}
		}
		for _, r := range rows {
			if r.line < 2 || r.line > lines+1 {
				t.Fatalf("row at line %d of a %d-line file", r.line, lines)
			}
		}
	})
}

// A dry run, whatever the file, changes nothing in a real store and either
// succeeds or is refused as the user's error.
func FuzzImportDryRun(f *testing.F) {
	ctx := context.Background()
	st, err := backend.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), backend.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	svc := New(st, Policies{Password: DefaultPasswordPolicy(), PIN: DefaultPINPolicy()})
	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		f.Fatal(err)
	}
	before, err := st.LastChange(ctx)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("number,name,cos,department,site\n2001,Kari,national,1100,Rådhuset\n2002,Ola,galaxy,,\n")
	f.Add("number,name,password,pin\n2003,Åse,Sv4rt-Lang-Passord,2580\n2003,dup,,\n")
	f.Add("number,name,enabled\n9999,Out of range,kanskje\n")
	f.Fuzz(func(t *testing.T, csv string) {
		_, err := svc.ImportExtensions(ctx, "fjordvik", strings.NewReader(csv), ImportOptions{DryRun: true, CreateMissing: true})
		if err != nil && !IsUserError(err) {
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("dry run failed as an internal error: %v", err)
			}
		}
		after, err := st.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("dry run changed the store: change seq %d -> %d", before, after)
		}
	})
}
