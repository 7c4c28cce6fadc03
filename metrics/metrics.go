// Package metrics is a small registry of scrape-time collectors written out
// in the Prometheus text exposition format, version 0.0.4.
//
// Nothing is counted here: each metric family is a function that reads the
// current value from its owner when /metrics is scraped, so the packages
// that own the state need only a read-only accessor. Names and label names
// are checked when a family is registered (a bad one is a programming
// error and panics); label values are escaped and samples sorted when
// written, so the output is stable from one scrape to the next.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's type as written on its # TYPE line.
type Type string

// The types this registry writes.
const (
	TypeGauge   Type = "gauge"
	TypeCounter Type = "counter"
)

// Sample is one value of a family. Labels are the label values, in the
// order of the label names the family was registered with.
type Sample struct {
	Labels []string
	Value  float64
}

// Registry holds metric families. The zero value is ready to use; it is
// safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
}

type family struct {
	name, help string
	typ        Type
	labels     []string
	collect    func() []Sample
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Gauge registers a family whose value may go up and down. fn is called at
// every scrape and returns the current samples (one per label-value set;
// a family without labels returns one sample with nil Labels).
func (r *Registry) Gauge(name, help string, labels []string, fn func() []Sample) {
	r.register(TypeGauge, name, help, labels, fn)
}

// Counter registers a family whose value only grows (it restarts at zero
// with the process). By convention its name ends in _total.
func (r *Registry) Counter(name, help string, labels []string, fn func() []Sample) {
	r.register(TypeCounter, name, help, labels, fn)
}

// One is a convenience for a family without labels: a single sample.
func One(v float64) []Sample { return []Sample{{Value: v}} }

func (r *Registry) register(typ Type, name, help string, labels []string, fn func() []Sample) {
	if err := validate(name, labels); err != nil {
		panic("metrics: " + err.Error())
	}
	if fn == nil {
		panic("metrics: " + name + ": nil collector")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.families == nil {
		r.families = map[string]*family{}
	}
	if _, dup := r.families[name]; dup {
		panic("metrics: " + name + " registered twice")
	}
	r.families[name] = &family{name: name, help: help, typ: typ, labels: slices.Clone(labels), collect: fn}
}

func validate(name string, labels []string) error {
	if !metricName.MatchString(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if !labelName.MatchString(l) || strings.HasPrefix(l, "__") {
			return fmt.Errorf("%s: invalid label name %q", name, l)
		}
		if seen[l] {
			return fmt.Errorf("%s: label %q given twice", name, l)
		}
		seen[l] = true
	}
	return nil
}

// Handler serves the registry in the text format.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var buf bytes.Buffer
		r.WriteTo(&buf)
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(buf.Bytes())
	})
}

// WriteTo collects every family and writes it to w, families sorted by
// name and samples by label values. A sample whose label count does not
// match the family's is left out, as is a repeated label-value set (the
// first is kept); a collector that panics loses only its own family, which
// is written as a comment instead.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })

	var b bytes.Buffer
	for _, f := range fams {
		samples, err := f.safeCollect()
		b.WriteString("# HELP ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(escapeHelp(f.help))
		b.WriteString("\n# TYPE ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(string(f.typ))
		b.WriteByte('\n')
		if err != nil {
			fmt.Fprintf(&b, "# collect %s failed: %s\n", f.name, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		for _, s := range samples {
			writeSample(&b, f, s)
		}
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// safeCollect calls the collector, turning a panic into an error, and
// returns its samples checked, sorted and without duplicates.
func (f *family) safeCollect() (out []Sample, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%v", p)
		}
	}()
	for _, s := range f.collect() {
		if len(s.Labels) == len(f.labels) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Sample) int { return slices.Compare(a.Labels, b.Labels) })
	out = slices.CompactFunc(out, func(a, b Sample) bool { return slices.Equal(a.Labels, b.Labels) })
	return out, nil
}

func writeSample(b *bytes.Buffer, f *family, s Sample) {
	b.WriteString(f.name)
	if len(f.labels) > 0 {
		b.WriteByte('{')
		for i, l := range f.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			b.WriteString(escapeLabel(s.Labels[i]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(s.Value))
	b.WriteByte('\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// The format is UTF-8: invalid bytes become U+FFFD rather than
// breaking the scrape.
func escapeLabel(s string) string { return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }
func escapeHelp(s string) string  { return helpEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		// Counts read better as integers than as 2.706544e+06.
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
