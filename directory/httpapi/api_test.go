package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sentralpbx/sentral/directory/search"
)

// getJSON fetches path from srv and decodes the body into v; it returns the
// status and the raw body.
func getJSON(t *testing.T, base, path string, v any) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q", path, cc)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("GET %s: decode %s: %v", path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func dirPath(tenant string, q url.Values) string {
	return "/api/v1/tenants/" + tenant + "/directory?" + q.Encode()
}

func TestAPIPaginationWalksEveryHitOnce(t *testing.T) {
	api, _ := servers(t, newDirectory())
	for _, tc := range []struct {
		q           string
		switchboard bool
		limit       int
	}{
		{"", false, 7},
		{"", true, 5},
		{"ansatt", false, 3},
		{"nummer0", false, 4},
		{"6", false, 9}, // number prefix
		{"bjo", false, 1},
		{"", false, 1000},
	} {
		name := tc.q + "/" + strconv.Itoa(tc.limit)
		t.Run(name, func(t *testing.T) {
			base := url.Values{"q": {tc.q}}
			if tc.switchboard {
				base.Set("switchboard", "1")
			}
			// The reference: everything in one page.
			all := base
			all.Set("limit", "1000")
			var ref SearchResponse
			if code, raw := getJSON(t, api.URL, dirPath("fjordvik", all), &ref); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, raw)
			}
			if ref.Total != len(ref.Entries) || ref.NextOffset != nil {
				t.Fatalf("reference page: total %d, %d entries, next %v", ref.Total, len(ref.Entries), ref.NextOffset)
			}

			var walked []int64
			seen := map[int64]bool{}
			offset, pages := 0, 0
			for {
				q := url.Values{"q": {tc.q}, "limit": {strconv.Itoa(tc.limit)}, "offset": {strconv.Itoa(offset)}}
				if tc.switchboard {
					q.Set("switchboard", "1")
				}
				var page SearchResponse
				if code, raw := getJSON(t, api.URL, dirPath("fjordvik", q), &page); code != http.StatusOK {
					t.Fatalf("offset %d: status %d: %s", offset, code, raw)
				}
				pages++
				if page.Total != ref.Total || page.Limit != tc.limit || page.Offset != offset || page.Query != tc.q || page.Tenant != "fjordvik" {
					t.Fatalf("offset %d: header %+v", offset, page)
				}
				if len(page.Entries) > tc.limit {
					t.Fatalf("offset %d: %d entries, limit %d", offset, len(page.Entries), tc.limit)
				}
				for _, e := range page.Entries {
					if seen[e.ID] {
						t.Fatalf("entry %d seen twice", e.ID)
					}
					seen[e.ID] = true
					walked = append(walked, e.ID)
				}
				if page.NextOffset == nil {
					if offset+tc.limit < page.Total {
						t.Fatalf("offset %d: no next_offset but total %d", offset, page.Total)
					}
					break
				}
				if *page.NextOffset != offset+tc.limit {
					t.Fatalf("next_offset %d, want %d", *page.NextOffset, offset+tc.limit)
				}
				offset = *page.NextOffset
				if pages > 1000 {
					t.Fatal("pagination does not end")
				}
			}
			want := make([]int64, len(ref.Entries))
			for i, e := range ref.Entries {
				want[i] = e.ID
			}
			if !slices.Equal(walked, want) {
				t.Fatalf("walked %v\nwant   %v", walked, want)
			}
			if ref.Total == 0 && tc.q != "" {
				t.Fatalf("query %q found nothing: fixture broken", tc.q)
			}
		})
	}
}

func TestAPIDefaultsAndShape(t *testing.T) {
	api, _ := servers(t, newDirectory())
	var r SearchResponse
	code, raw := getJSON(t, api.URL, "/api/v1/tenants/fjordvik/directory", &r)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, raw)
	}
	if r.Limit != search.DefaultLimit || r.Offset != 0 || r.NextOffset == nil || *r.NextOffset != search.DefaultLimit || len(r.Entries) != search.DefaultLimit {
		t.Fatalf("defaults: limit %d offset %d next %v entries %d", r.Limit, r.Offset, r.NextOffset, len(r.Entries))
	}
	for _, key := range []string{`"next_offset":20`, `"given_name"`, `"family_name"`, `"numbers"`, `"visibility"`, `"score"`} {
		if !strings.Contains(raw, key) {
			t.Errorf("body lacks %s: %s", key, raw)
		}
	}

	// Relevance first, Norwegian order for ties: Åsen and Aasen are both
	// exact (å and aa are one letter), so the given name decides.
	r = SearchResponse{}
	getJSON(t, api.URL, dirPath("fjordvik", url.Values{"q": {"aasen"}}), &r)
	if got := names(r.Entries); !slices.Equal(got, []string{"Ola Åsen", "Per Aasen"}) {
		t.Fatalf("aasen: %v", got)
	}
	r = SearchResponse{}
	getJSON(t, api.URL, dirPath("fjordvik", url.Values{"q": {"bjørn"}}), &r)
	if got := names(r.Entries); len(got) < 2 || got[0] != "Bjørn Nordmann" || got[1] != "Bjørnar Zakariassen" {
		t.Fatalf("bjørn: exact before prefix: %v", got)
	}
	if r.Entries[0].Score <= r.Entries[1].Score {
		t.Fatalf("scores not in relevance order: %d, %d", r.Entries[0].Score, r.Entries[1].Score)
	}

	// Last page: next_offset is null, and numbers are a list even when empty.
	code, raw = getJSON(t, api.URL, dirPath("fjordvik", url.Values{"q": {"uten nummer"}}), &r)
	if code != http.StatusOK || !strings.Contains(raw, `"next_offset":null`) || !strings.Contains(raw, `"numbers":[]`) {
		t.Fatalf("last page: %d %s", code, raw)
	}

	// Offset past the end: an empty page, not an error.
	r = SearchResponse{}
	code, raw = getJSON(t, api.URL, dirPath("fjordvik", url.Values{"offset": {"100000"}}), &r)
	if code != http.StatusOK || len(r.Entries) != 0 || r.NextOffset != nil || r.Total == 0 || !strings.Contains(raw, `"entries":[]`) {
		t.Fatalf("past the end: %d %s", code, raw)
	}
}

func names(es []EntryView) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func TestAPIBadParameters(t *testing.T) {
	api, _ := servers(t, newDirectory())
	tests := []struct {
		query, param, mention string
	}{
		{"limit=-1", "limit", "1 to 1000"},
		{"limit=abc", "limit", "1 to 1000"},
		{"limit=1001", "limit", "1 to 1000"},
		{"limit=0", "limit", "1 to 1000"},
		{"limit=", "limit", "1 to 1000"},
		{"limit=1e3", "limit", "1 to 1000"},
		{"limit=99999999999999999999999", "limit", "1 to 1000"},
		{"offset=-1", "offset", "0 to 2147483647"},
		{"offset=zero", "offset", "0 to 2147483647"},
		{"offset=2147483648", "offset", "0 to 2147483647"},
		{"limit=5&limit=6", "limit", "more than once"},
		{"q=a&q=b", "q", "more than once"},
		{"switchboard=yes", "switchboard", "1 or 0"},
		{"q=" + strings.Repeat("a", MaxQueryLength+1), "q", "at most 200"},
		{"q=%ff", "q", "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			var e ErrorResponse
			code, raw := getJSON(t, api.URL, "/api/v1/tenants/fjordvik/directory?"+tc.query, &e)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", code, raw)
			}
			if e.Parameter != tc.param || !strings.HasPrefix(e.Error, tc.param+": ") || !strings.Contains(e.Error, tc.mention) {
				t.Fatalf("error %+v, want parameter %q mentioning %q", e, tc.param, tc.mention)
			}
		})
	}
	// Bad parameters are reported even for an unknown tenant: the request
	// is wrong whatever the tenant.
	if code, _ := getJSON(t, api.URL, "/api/v1/tenants/nowhere/directory?limit=x", nil); code != http.StatusBadRequest {
		t.Fatalf("bad limit, unknown tenant: %d", code)
	}
	// Unknown parameters are ignored; the edges of the ranges are fine.
	for _, q := range []string{"_=123", "limit=1", "limit=1000", "offset=0", "offset=2147483647", "switchboard=0", "switchboard=true", "q=" + strings.Repeat("å", MaxQueryLength)} {
		if code, raw := getJSON(t, api.URL, "/api/v1/tenants/fjordvik/directory?"+q, nil); code != http.StatusOK {
			t.Errorf("%s: status %d: %s", q, code, raw)
		}
	}
}

func TestAPIUnknownTenant(t *testing.T) {
	api, _ := servers(t, newDirectory())
	var e ErrorResponse
	code, raw := getJSON(t, api.URL, "/api/v1/tenants/nowhere/directory?q=kari", &e)
	if code != http.StatusNotFound || e.Error != "no such tenant" {
		t.Fatalf("status %d: %s", code, raw)
	}
}

func TestAPIVisibilityAndNotes(t *testing.T) {
	api, _ := servers(t, newDirectory())
	fetchAll := func(q url.Values) (SearchResponse, string) {
		q.Set("limit", "1000")
		var r SearchResponse
		code, raw := getJSON(t, api.URL, dirPath("fjordvik", q), &r)
		if code != http.StatusOK {
			t.Fatalf("%v: status %d: %s", q, code, raw)
		}
		return r, raw
	}

	// Admin, not switchboard: internal entries yes, secret ones never,
	// notes never, whatever the query.
	for _, q := range []string{"", "østby", "ostby", "lise", "4717", "+4793000001", "barnevern", "ukjent", "4799"} {
		r, raw := fetchAll(url.Values{"q": {q}})
		for _, e := range r.Entries {
			if e.Visibility != search.VisibilityListed && e.Visibility != search.VisibilityInternal {
				t.Errorf("q=%q: %s entry %d %q shown to admin", q, e.Visibility, e.ID, e.Name)
			}
		}
		if strings.Contains(raw, `"notes"`) || strings.Contains(raw, "Permisjon") {
			t.Errorf("q=%q: notes without switchboard: %s", q, raw)
		}
	}
	if r, _ := fetchAll(url.Values{"q": {"ærø"}}); len(r.Entries) != 1 || r.Entries[0].Visibility != "internal" {
		t.Errorf("internal entry not found by admin: %+v", r.Entries)
	}

	// Switchboard: secret by name with notes; never by number.
	r, _ := fetchAll(url.Values{"q": {"østby"}, "switchboard": {"1"}})
	if len(r.Entries) != 1 || r.Entries[0].ID != 7 || r.Entries[0].Notes == "" {
		t.Fatalf("switchboard østby: %+v", r.Entries)
	}
	if r, _ := fetchAll(url.Values{"q": {"4717"}, "switchboard": {"1"}}); len(r.Entries) != 0 {
		t.Fatalf("secret entry found by number: %+v", r.Entries)
	}
	r, _ = fetchAll(url.Values{"q": {"anne-marie"}, "switchboard": {"1"}})
	if len(r.Entries) != 1 || r.Entries[0].Notes != "Permisjon til 3. desember" {
		t.Fatalf("switchboard notes of a listed entry: %+v", r.Entries)
	}
}

func TestAPITenantsAreSeparate(t *testing.T) {
	api, _ := servers(t, newDirectory())
	var r SearchResponse
	getJSON(t, api.URL, dirPath("fjordvik", url.Values{"q": {"dalby"}, "switchboard": {"1"}}), &r)
	if len(r.Entries) != 0 {
		t.Fatalf("dalby's people in fjordvik: %+v", r.Entries)
	}
	getJSON(t, api.URL, dirPath("dalby", url.Values{}), &r)
	if r.Total != 1 || r.Entries[0].ID != 101 {
		t.Fatalf("dalby: %+v", r)
	}
}

func TestAPIRefusesSecretFromBrokenDirectory(t *testing.T) {
	api, _ := servers(t, &leakyDirectory{*newDirectory()})
	var r SearchResponse
	getJSON(t, api.URL, dirPath("fjordvik", url.Values{"q": {"østby"}}), &r)
	if len(r.Entries) != 0 {
		t.Fatalf("secret entry passed on: %+v", r.Entries)
	}
}
