package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/directory/billing"
	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/pgtest"
)

// TestRatingPostgres measures pricing call records on PostgreSQL: the
// background rater's RatePending over SENTRAL_BENCH_CDRS (10 million)
// closed, unrated records of one tenant, mixed like a municipality's
// month (national, mobile, international, short numbers, a tenth
// unanswered). Records are generated inside PostgreSQL so that loading
// them is not what is measured.
//
//	eval "$(bash scripts/pg-test.sh start)"
//	SENTRAL_BENCH=1 go test -count=1 -run '^TestRatingPostgres$' -v -timeout 60m ./bench/
func TestRatingPostgres(t *testing.T) {
	if os.Getenv("SENTRAL_BENCH") == "" {
		t.Skip("benchmark: set SENTRAL_BENCH=1 (rating 10 million call records on PostgreSQL)")
	}
	n := envInt("SENTRAL_BENCH_CDRS", 10_000_000)
	admin := pgtest.Admin(t)
	dsn := pgtest.Database(t, admin, "sentral_bench")
	ctx := context.Background()
	st := openT(t, dsn)

	tn := store.Tenant{Name: "fjordvik", Domain: "fjordvik.test", Ranges: []store.NumberRange{{Kind: store.RangeExtension, First: "2000", Last: "2999"}}}
	if err := st.Tenants().Create(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../configs/tariff.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := billing.ParseTariff(spec)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := tr.JSON()
	if _, err := st.Tariffs().Add(ctx, store.Tariff{TenantID: tn.ID, Name: tr.Name, Spec: string(js)}); err != nil {
		t.Fatal(err)
	}

	load := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const chunk = 1_000_000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		_, err := conn.Exec(ctx, `
INSERT INTO cdrs (tenant_id, call_id, node, state, direction, caller, callee, dialled, normalised,
                  department_code, start_time, answer_time, end_time, duration_seconds, billable_seconds, disposition, sip_code)
SELECT $1, 'bench-' || g, 'bench', 'closed', 'outbound', (2000 + g % 900)::text, x.num, x.num, x.num,
       (1000 + g % 40)::text, x.ts,
       CASE WHEN g % 10 = 0 THEN NULL ELSE x.ts + interval '5 seconds' END,
       x.ts + make_interval(secs => 5 + g % 600), 5 + g % 600,
       CASE WHEN g % 10 = 0 THEN 0 ELSE g % 600 END,
       CASE WHEN g % 10 = 0 THEN 'no-answer' ELSE 'answered' END,
       CASE WHEN g % 10 = 0 THEN 487 ELSE 200 END
FROM generate_series($2::bigint, $3::bigint) g,
LATERAL (SELECT CASE g % 7
           WHEN 0 THEN '+4722' || lpad((g % 1000000)::text, 6, '0')
           WHEN 1 THEN '+4791' || lpad((g % 1000000)::text, 6, '0')
           WHEN 2 THEN '+4748' || lpad((g % 1000000)::text, 6, '0')
           WHEN 3 THEN '+46' || lpad((g % 100000000)::text, 8, '0')
           WHEN 4 THEN '+1876' || lpad((g % 10000000)::text, 7, '0')
           WHEN 5 THEN '+471881'
           ELSE '+4755' || lpad((g % 1000000)::text, 6, '0') END AS num,
         timestamptz '2026-11-01 00:00:00+01' + (g % 2592000) * interval '1 second' AS ts) x`,
			tn.ID, lo, hi)
		if err != nil {
			t.Fatalf("generate records %d-%d: %v", lo, hi, err)
		}
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE cdrs"); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d records in %s", n, time.Since(load).Round(time.Second))

	svc := billing.NewService(st, zap.NewNop())
	stop := cpuProfile(t)
	start := time.Now()
	res, err := svc.RatePending(ctx)
	elapsed := time.Since(start)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if res.Rated+res.Failed != int64(n) {
		t.Fatalf("rated %d + failed %d of %d records", res.Rated, res.Failed, n)
	}
	var unrated int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM cdrs WHERE price_ore IS NULL").Scan(&unrated); err != nil {
		t.Fatal(err)
	}
	if unrated != res.Failed {
		t.Errorf("%d records left unrated, the rater reported %d failures", unrated, res.Failed)
	}
	fmt.Printf("rating on PostgreSQL: %d records in %s = %.0f records/s (page %d, GOMAXPROCS %d); %d rated, %d failed, total %s NOK\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), billing.DefaultPage, runtime.GOMAXPROCS(0),
		res.Rated, res.Failed, billing.FormatOre(res.Ore))
}

func openT(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := backend.Open(context.Background(), dsn, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
