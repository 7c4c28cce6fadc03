package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGolden(t *testing.T) {
	var r Registry
	r.Gauge("b_up", "Whether b is up.", nil, func() []Sample { return One(1) })
	r.Counter("a_events_total", "Events seen.\nSecond line with a \\ backslash.", []string{"bus"}, func() []Sample {
		return []Sample{{Labels: []string{"zeta"}, Value: 3}, {Labels: []string{"big"}, Value: 2e20}, {Labels: []string{"alpha"}, Value: 1.5e9}}
	})
	r.Gauge("c_queue", "Queue length.", []string{"tenant", "queue"}, func() []Sample {
		return []Sample{
			{Labels: []string{"t2", "x"}, Value: 2},
			{Labels: []string{"t1", "y"}, Value: 0.25},
			{Labels: []string{"t1", "x"}, Value: math.Inf(1)},
			{Labels: []string{"t1", "x"}, Value: 99}, // duplicate: dropped
			{Labels: []string{"short"}, Value: 7},    // wrong label count: dropped
		}
	})
	r.Gauge("d_empty", "No samples yet.", []string{"trunk"}, func() []Sample { return nil })
	r.Gauge("e_nan", "Not a number.", nil, func() []Sample { return One(math.NaN()) })

	want := `# HELP a_events_total Events seen.\nSecond line with a \\ backslash.
# TYPE a_events_total counter
a_events_total{bus="alpha"} 1500000000
a_events_total{bus="big"} 2e+20
a_events_total{bus="zeta"} 3
# HELP b_up Whether b is up.
# TYPE b_up gauge
b_up 1
# HELP c_queue Queue length.
# TYPE c_queue gauge
c_queue{tenant="t1",queue="x"} +Inf
c_queue{tenant="t1",queue="y"} 0.25
c_queue{tenant="t2",queue="x"} 2
# HELP d_empty No samples yet.
# TYPE d_empty gauge
# HELP e_nan Not a number.
# TYPE e_nan gauge
e_nan NaN
`
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
	// Stable: a second scrape is byte for byte the same.
	var b2 strings.Builder
	r.WriteTo(&b2)
	if b2.String() != b.String() {
		t.Error("second scrape differs")
	}
}

func TestEscaping(t *testing.T) {
	var r Registry
	r.Gauge("x", "h", []string{"v"}, func() []Sample {
		return []Sample{{Labels: []string{"a\\b\"c\nd\xffe"}, Value: 1}}
	})
	var b strings.Builder
	r.WriteTo(&b)
	want := `x{v="a\\b\"c\nd` + "\uFFFD" + `e"} 1`
	if !strings.Contains(b.String(), want+"\n") {
		t.Errorf("got %q, want line %q", b.String(), want)
	}
}

func TestBadRegistrationsPanic(t *testing.T) {
	fn := func() []Sample { return nil }
	for name, reg := range map[string]func(r *Registry){
		"empty name":       func(r *Registry) { r.Gauge("", "h", nil, fn) },
		"leading digit":    func(r *Registry) { r.Gauge("1up", "h", nil, fn) },
		"dash":             func(r *Registry) { r.Counter("a-b", "h", nil, fn) },
		"label with colon": func(r *Registry) { r.Gauge("ok", "h", []string{"a:b"}, fn) },
		"reserved label":   func(r *Registry) { r.Gauge("ok", "h", []string{"__name"}, fn) },
		"duplicate label":  func(r *Registry) { r.Gauge("ok", "h", []string{"a", "a"}, fn) },
		"nil collector":    func(r *Registry) { r.Gauge("ok", "h", nil, nil) },
		"registered twice": func(r *Registry) {
			r.Gauge("ok", "h", nil, fn)
			r.Counter("ok", "h", nil, fn)
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			reg(&Registry{})
		})
	}
	// Colons are allowed in metric names (recording rules use them).
	var r Registry
	r.Gauge("job:up:sum", "h", []string{"_x", "A9"}, fn)
}

func TestPanickingCollectorLosesOnlyItsFamily(t *testing.T) {
	var r Registry
	r.Gauge("a", "h", nil, func() []Sample { panic("boom\nagain") })
	r.Gauge("b", "h", nil, func() []Sample { return One(2) })
	var b strings.Builder
	r.WriteTo(&b)
	out := b.String()
	if !strings.Contains(out, "# collect a failed: boom again\n") || !strings.Contains(out, "\nb 2\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestHandler(t *testing.T) {
	var r Registry
	r.Gauge("up", "h", nil, func() []Sample { return One(1) })
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if !strings.HasSuffix(rec.Body.String(), "\nup 1\n") {
		t.Errorf("body %q", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/metrics", nil))
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: body %q, length %q", rec.Body.String(), rec.Header().Get("Content-Length"))
	}
}
