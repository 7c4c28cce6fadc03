// Package bench measures Sentral. Nothing here asserts a speed: the figures
// go to docs/performance.md with the machine and the command that made them.
//
//	make bench                                   # SQLite
//	eval "$(scripts/pg-test.sh start)"; make bench   # SQLite and PostgreSQL
package bench

import (
	"context"
	"fmt"
	"github.com/sentralpbx/sentral/store/pgtest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
)

const sample = "../configs/samples/fjordvik-extensions.csv"

// stores yields a fresh, empty store of each back end available.
func stores(b *testing.B) map[string]func(b *testing.B) string {
	m := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") },
	}
	if admin := os.Getenv("SENTRAL_TEST_PG"); admin != "" {
		m["postgres"] = func(b *testing.B) string { return pgtest.Database(b, admin, "sentral_bench") }
	}
	return m
}

func open(b *testing.B, dsn string, poll time.Duration) store.Store {
	b.Helper()
	st, err := backend.Open(context.Background(), dsn, backend.Options{PollInterval: poll})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkImportSample imports the sample municipality (900 extensions,
// creating 30 sites, 43 departments and the people) into an empty tenant:
// the whole `sentral import extensions --create-missing` use case, minus
// process start.
func BenchmarkImportSample(b *testing.B) {
	for name, fresh := range stores(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := open(b, fresh(b), 0)
				svc := provisioning.New(st, provisioning.Policies{Password: provisioning.DefaultPasswordPolicy(), PIN: provisioning.DefaultPINPolicy()})
				domain, ranges := "fjordvik.sentral.test", []string{"2000-2999"}
				if _, err := svc.AddTenant(ctx, "fjordvik", provisioning.TenantInput{Domain: &domain, ExtRanges: &ranges}); err != nil {
					b.Fatal(err)
				}
				f, err := os.Open(sample)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := svc.ImportExtensions(ctx, "fjordvik", f, provisioning.ImportOptions{CreateMissing: true})
				b.StopTimer()
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Extensions) != 900 {
					b.Fatalf("imported %d extensions, want 900", len(res.Extensions))
				}
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/import")
		})
	}
}

// BenchmarkChangeLatency measures how long a committed write takes to reach
// a watcher on a second, independent handle (as the CLI's write reaches the
// running server), with the default poll interval.
func BenchmarkChangeLatency(b *testing.B) {
	for name, fresh := range stores(b) {
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dsn := fresh(b)
			writer, server := open(b, dsn, 0), open(b, dsn, 0)
			tn := store.Tenant{Name: "lat", Domain: "lat.test"}
			if err := writer.Tenants().Create(ctx, &tn); err != nil {
				b.Fatal(err)
			}
			last, _ := server.LastChange(ctx)
			ch := server.Watch(ctx, last)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d := store.Department{TenantID: tn.ID, Code: fmt.Sprint(i), Name: "Avdeling"}
				start := time.Now()
				if err := writer.Departments().Create(ctx, &d); err != nil {
					b.Fatal(err)
				}
				select {
				case <-ch:
					lat = append(lat, time.Since(start))
				case <-time.After(10 * time.Second):
					b.Fatal("change not delivered within 10s")
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}
