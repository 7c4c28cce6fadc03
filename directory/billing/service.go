package billing

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/store"
)

// Service rates the call records in the store, re-rates periods, applies
// the tenants' retention and builds their reports. It reads the store and
// writes prices; it never touches a call in progress.
type Service struct {
	st  store.Store
	log *zap.Logger
	// Page is how many records one scan reads (and one transaction
	// prices); 0 means DefaultPage.
	Page int
}

// DefaultPage is the default scan page: large enough that round trips do
// not dominate, small enough that a page's transaction stays short.
const DefaultPage = 5000

// NewService returns a rating service over st.
func NewService(st store.Store, log *zap.Logger) *Service {
	return &Service{st: st, log: log}
}

// Result counts what a rating run did.
type Result struct {
	Tenants int   `json:"tenants"` // tenants rated (those with a tariff)
	Scanned int64 `json:"scanned"` // closed records read
	Rated   int64 `json:"rated"`   // records priced
	Failed  int64 `json:"failed"`  // records that could not be priced (unknown numbers), left unrated
	Ore     int64 `json:"ore"`     // sum of the prices written
	Skipped int   `json:"skipped"` // tenants without a tariff, whose records wait
}

func (s *Service) page() int {
	if s.Page > 0 {
		return s.Page
	}
	return DefaultPage
}

// current returns a tenant's current tariff, parsed; ok is false when the
// tenant has none.
func (s *Service) current(ctx context.Context, tenantID int64) (*Tariff, int64, bool, error) {
	rev, err := s.st.Tariffs().Current(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	t, err := ParseTariff([]byte(rev.Spec))
	if err != nil {
		return nil, 0, false, fmt.Errorf("tariff %d (%s) of tenant %d: %w", rev.ID, rev.Name, tenantID, err)
	}
	return t, rev.ID, true, nil
}

// RatePending prices every closed record that has no price yet, each with
// its tenant's current tariff. Records of tenants without a tariff wait
// for one.
func (s *Service) RatePending(ctx context.Context) (Result, error) {
	tenants, err := s.st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("rate: list tenants: %w", err)
	}
	var res Result
	for _, tn := range tenants {
		t, id, ok, err := s.current(ctx, tn.ID)
		if err != nil {
			return res, fmt.Errorf("rate tenant %s: %w", tn.Name, err)
		}
		if !ok {
			res.Skipped++
			continue
		}
		res.Tenants++
		if err := s.rate(ctx, t, id, store.CDRFilter{TenantID: tn.ID}, true, &res); err != nil {
			return res, fmt.Errorf("rate tenant %s: %w", tn.Name, err)
		}
	}
	return res, nil
}

// Rerate prices again, with the tenant's current tariff, every closed
// record of the tenant that started in [from, to): after a tariff change
// or a correction. Records that no longer classify keep their old price.
func (s *Service) Rerate(ctx context.Context, tenantID int64, from, to time.Time) (Result, error) {
	t, id, ok, err := s.current(ctx, tenantID)
	if err != nil {
		return Result{}, fmt.Errorf("rerate: %w", err)
	}
	if !ok {
		return Result{}, &store.FieldError{Entity: store.EntityTariff, Field: "tenant_id", Kind: store.ErrNotFound,
			Reason: "the tenant has no tariff to rate with (set one with sentral tariff set)"}
	}
	res := Result{Tenants: 1}
	if err := s.rate(ctx, t, id, store.CDRFilter{TenantID: tenantID, From: from, To: to}, false, &res); err != nil {
		return res, fmt.Errorf("rerate: %w", err)
	}
	return res, nil
}

// rate pages through the records f selects by id and prices each page
// in one write. On PostgreSQL pages are priced by several writers while
// the next is read: a write waits on the database (every priced row is a
// new row version with its index entries), not on this process, so one
// writer leaves the server's cores idle. SQLite takes one writer at a
// time anyway.
func (s *Service) rate(ctx context.Context, t *Tariff, tariffID int64, f store.CDRFilter, unrated bool, res *Result) error {
	writers := 1
	if s.st.Backend() == "postgres" {
		writers = max(2, min(runtime.GOMAXPROCS(0), 4))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan []store.CDR, writers)
	var mu sync.Mutex // guards res
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for page := range pages {
				var local Result
				prices := make([]store.CDRPrice, 0, len(page))
				for _, c := range page {
					local.Scanned++
					r, err := t.Rate(c)
					if err != nil {
						// An unknown number needs a person, not a guess:
						// the record stays unrated and reports count it.
						local.Failed++
						s.log.Debug("call record not rated", zap.Int64("cdr", c.ID), zap.String("call_id", c.CallID), zap.Error(err))
						continue
					}
					prices = append(prices, store.CDRPrice{ID: c.ID, PriceOre: r.PriceOre, TariffID: tariffID})
					local.Ore += r.PriceOre
				}
				if err := s.st.CDRs().SetPrices(ctx, prices); err != nil {
					cancel(err)
					continue // drain, so the reader is not left blocked
				}
				local.Rated = int64(len(prices))
				mu.Lock()
				res.Scanned += local.Scanned
				res.Failed += local.Failed
				res.Rated += local.Rated
				res.Ore += local.Ore
				mu.Unlock()
			}
		}()
	}
	after := int64(0)
	var readErr error
	for ctx.Err() == nil {
		page, err := s.st.CDRs().Scan(ctx, f, after, s.page(), unrated)
		if err != nil {
			readErr = err
			break
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		select {
		case pages <- page:
		case <-ctx.Done():
		}
	}
	close(pages)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && readErr == nil {
		readErr = err
	}
	return readErr
}

// Purge deletes, for every tenant with a retention period, the closed
// records that started longer ago than it allows, and returns how many it
// deleted per tenant name.
func (s *Service) Purge(ctx context.Context, now time.Time) (map[string]int, error) {
	tenants, err := s.st.Tenants().List(ctx, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("purge: list tenants: %w", err)
	}
	out := map[string]int{}
	for _, tn := range tenants {
		if tn.CDRRetentionDays <= 0 {
			continue
		}
		n, err := s.st.CDRs().Purge(ctx, tn.ID, now.AddDate(0, 0, -tn.CDRRetentionDays))
		if err != nil {
			return out, fmt.Errorf("purge tenant %s: %w", tn.Name, err)
		}
		out[tn.Name] = n
	}
	return out, nil
}

// Run rates pending records every interval and applies retention once an
// hour, until ctx ends. It is meant to run in its own goroutine, owned by
// whoever owns ctx; failures are logged and retried on the next tick.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Minute
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastPurge time.Time
	for {
		res, err := s.RatePending(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("rating call records", zap.Error(err))
		case res.Rated > 0 || res.Failed > 0:
			s.log.Info("rated call records", zap.Int64("rated", res.Rated), zap.Int64("failed", res.Failed), zap.Int64("ore", res.Ore))
		}
		if now := time.Now(); now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			purged, err := s.Purge(ctx, now)
			if err != nil && ctx.Err() == nil {
				s.log.Error("applying call record retention", zap.Error(err))
			}
			for tenant, n := range purged {
				if n > 0 {
					s.log.Info("deleted call records past retention", zap.String("tenant", tenant), zap.Int("records", n))
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Month returns the first instant of a month in Oslo and of the
// next month, the period a monthly report covers.
func Month(year int, month time.Month) (from, to time.Time, err error) {
	loc, err := oslo()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	from = time.Date(year, month, 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 1, 0), nil
}

// Report builds a tenant's report of the records that started in
// [from, to), named by period, with the tenant's masking.
func (s *Service) Report(ctx context.Context, tn store.Tenant, from, to time.Time, period string, topN int, calls bool) (Report, error) {
	cdrs, err := s.st.CDRs().List(ctx, store.CDRFilter{TenantID: tn.ID, From: from, To: to})
	if err != nil {
		return Report{}, fmt.Errorf("report %s %s: %w", tn.Name, period, err)
	}
	deps, err := s.st.Departments().List(ctx, store.ListOptions{TenantID: tn.ID})
	if err != nil {
		return Report{}, fmt.Errorf("report %s %s: %w", tn.Name, period, err)
	}
	names := map[string]string{}
	for _, d := range deps {
		names[d.Code] = d.Name
	}
	return Monthly(cdrs, ReportOptions{Tenant: tn.Name, Period: period, MaskDigits: tn.ReportMaskDigits, TopN: topN,
		DepartmentNames: names, Calls: calls}), nil
}
