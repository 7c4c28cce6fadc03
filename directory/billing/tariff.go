package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Class names: the keys of Tariff.Rates and the values of Rating.Class.
// All but ClassInbound are dialplan.Kind names, so a rate is found from a
// classified number without a translation table.
const (
	ClassInternal      = "internal"
	ClassInbound       = "inbound"
	ClassEmergency     = "emergency"
	ClassNational      = "national"
	ClassMobile        = "mobile"
	ClassFreephone     = "freephone"
	ClassSharedCost    = "shared-cost"
	ClassPremium       = "premium"
	ClassShort         = "short"
	ClassInternational = "international"
)

// Classes lists every class a tariff may rate, in the order reports and
// errors list them.
func Classes() []string {
	return []string{ClassInternal, ClassInbound, ClassEmergency, ClassNational, ClassMobile,
		ClassFreephone, ClassSharedCost, ClassPremium, ClassShort, ClassInternational}
}

// alwaysFree classes may appear in a tariff only with zero prices: internal
// and emergency calls are free by law and policy, and inbound calls are
// paid by the caller; a non-zero price there would be silently ignored,
// so it is refused instead.
func alwaysFree(class string) bool {
	return class == ClassInternal || class == ClassInbound || class == ClassEmergency
}

// defaultFree classes are free when the tariff does not list them. Every
// other class must be listed, so that no call is rated 0 because someone
// forgot a line.
func defaultFree(class string) bool { return alwaysFree(class) || class == ClassFreephone }

// Unit is what a price is per.
type Unit string

// Units.
const (
	PerSecond Unit = "second"
	// PerMinute charges every started minute in full.
	PerMinute Unit = "minute"
)

// Tariff is a tenant's price list, parsed and validated. The store keeps it
// as the bytes of JSON() and gives it back to ParseTariff.
type Tariff struct {
	Name  string
	Bands []Band
	// Rates maps a class name (see Classes) to its rate. Classes missing
	// here are free if defaultFree, and a validation error otherwise.
	Rates map[string]Rate
	// Zones rate international numbers by longest matching prefix; a
	// number in no zone takes Rates["international"].
	Zones []Zone
}

// Rate is the price of one class or zone.
type Rate struct {
	Connect Amount // charged once per answered call
	Price   Amount // per Per
	Per     Unit   // may be "" only when the rate is entirely free
	// Bands override the rate in time-of-day bands; the first override
	// whose band contains the answer time wins.
	Bands []BandRate
}

// BandRate overrides a Rate in one band. Nil or empty fields keep the
// class's default, so an override can change just the price.
type BandRate struct {
	Band    string
	Connect *Amount
	Price   *Amount
	Per     Unit
}

// Zone is a group of international prefixes with one rate.
type Zone struct {
	Name     string
	Prefixes []string // "+" and digits, e.g. "+358"
	Rate     Rate
}

// maxTariffBytes bounds what ParseTariff reads; a real tariff is a few
// kilobytes.
const maxTariffBytes = 1 << 20

// ParseTariff reads a tariff written in YAML (JSON is YAML too, so the
// canonical form reads back) and validates it. Unknown fields are errors:
// a misspelt "conect" must not make calls cheaper.
func ParseTariff(data []byte) (*Tariff, error) {
	if len(data) > maxTariffBytes {
		return nil, fmt.Errorf("tariff: file is larger than %d bytes", maxTariffBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("tariff: the file is empty; see docs/billing.md for the format")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s tariffSpec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) { // only comments or a bare document marker
			return nil, errors.New("tariff: the file is empty; see docs/billing.md for the format")
		}
		return nil, fmt.Errorf("tariff: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("tariff: more than one YAML document; put the whole tariff in one")
	}
	t, err := s.tariff()
	if err != nil {
		return nil, fmt.Errorf("tariff: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// JSON gives the canonical form the store keeps: fixed key order, amounts
// as strings with a dot and two to four decimals, days in week order and
// zone prefixes sorted. Parsing it gives back an equal tariff, and equal
// tariffs give equal bytes, so the store can tell whether a tariff changed.
func (t *Tariff) JSON() ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(t.spec(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tariff %q: %w", t.Name, err)
	}
	return append(b, '\n'), nil
}

// The spec types are the file format. They keep amounts and times as the
// admin wrote them so that errors can quote them, and yaml.v3 hands a
// scalar's source text to a string field, so `price: 0.49` never becomes
// a float on the way in.
type tariffSpec struct {
	Name  string               `yaml:"name" json:"name"`
	Bands []bandSpec           `yaml:"bands" json:"bands,omitempty"`
	Rates map[string]*rateSpec `yaml:"rates" json:"rates"`
	Zones []zoneSpec           `yaml:"zones" json:"zones,omitempty"`
}

type bandSpec struct {
	Name string   `yaml:"name" json:"name"`
	Days []string `yaml:"days" json:"days"`
	From string   `yaml:"from" json:"from"`
	To   string   `yaml:"to" json:"to"`
}

type rateSpec struct {
	Connect string         `yaml:"connect" json:"connect,omitempty"`
	Price   string         `yaml:"price" json:"price"`
	Per     string         `yaml:"per" json:"per,omitempty"`
	Bands   []bandRateSpec `yaml:"bands" json:"bands,omitempty"`
}

type bandRateSpec struct {
	Band    string `yaml:"band" json:"band"`
	Connect string `yaml:"connect" json:"connect,omitempty"`
	Price   string `yaml:"price" json:"price,omitempty"`
	Per     string `yaml:"per" json:"per,omitempty"`
}

type zoneSpec struct {
	Name     string   `yaml:"name" json:"name"`
	Prefixes []string `yaml:"prefixes" json:"prefixes"`
	rateSpec `yaml:",inline"`
}

// tariff converts the syntax; Validate checks the meaning.
func (s *tariffSpec) tariff() (*Tariff, error) {
	t := &Tariff{Name: strings.TrimSpace(s.Name), Rates: map[string]Rate{}}
	for i, b := range s.Bands {
		band, err := b.band(fmt.Sprintf("bands[%d]", i))
		if err != nil {
			return nil, err
		}
		t.Bands = append(t.Bands, band)
	}
	// Sorted, so that a file with two mistakes always reports the same one.
	for _, class := range slices.Sorted(maps.Keys(s.Rates)) {
		if !slices.Contains(Classes(), class) {
			return nil, fmt.Errorf("rates.%s: unknown class; the classes are %s", class, strings.Join(Classes(), ", "))
		}
		r := s.Rates[class]
		if r == nil {
			return nil, fmt.Errorf("rates.%s: empty; give at least a price, e.g. price: \"0\"", class)
		}
		rate, err := r.rate("rates." + class)
		if err != nil {
			return nil, err
		}
		t.Rates[class] = rate
	}
	for i, z := range s.Zones {
		field := fmt.Sprintf("zones[%d]", i)
		if z.Name != "" {
			field = fmt.Sprintf("zones[%d] (%s)", i, z.Name)
		}
		rate, err := z.rateSpec.rate(field)
		if err != nil {
			return nil, err
		}
		t.Zones = append(t.Zones, Zone{Name: strings.TrimSpace(z.Name), Prefixes: trimAll(z.Prefixes), Rate: rate})
	}
	return t, nil
}

func trimAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

func (r *rateSpec) rate(field string) (Rate, error) {
	var out Rate
	var err error
	if strings.TrimSpace(r.Connect) != "" {
		if out.Connect, err = ParseAmount(r.Connect); err != nil {
			return Rate{}, fmt.Errorf("%s.connect %q: %w", field, r.Connect, err)
		}
	}
	if out.Price, err = ParseAmount(r.Price); err != nil {
		return Rate{}, fmt.Errorf("%s.price %q: %w", field, r.Price, err)
	}
	out.Per = Unit(strings.ToLower(strings.TrimSpace(r.Per)))
	for i, b := range r.Bands {
		bf := fmt.Sprintf("%s.bands[%d]", field, i)
		br := BandRate{Band: strings.TrimSpace(b.Band), Per: Unit(strings.ToLower(strings.TrimSpace(b.Per)))}
		if strings.TrimSpace(b.Connect) != "" {
			a, err := ParseAmount(b.Connect)
			if err != nil {
				return Rate{}, fmt.Errorf("%s.connect %q: %w", bf, b.Connect, err)
			}
			br.Connect = &a
		}
		if strings.TrimSpace(b.Price) != "" {
			a, err := ParseAmount(b.Price)
			if err != nil {
				return Rate{}, fmt.Errorf("%s.price %q: %w", bf, b.Price, err)
			}
			br.Price = &a
		}
		out.Bands = append(out.Bands, br)
	}
	return out, nil
}

func (b *bandSpec) band(field string) (Band, error) {
	out := Band{Name: strings.TrimSpace(b.Name)}
	for _, d := range b.Days {
		wd, ok := parseDay(d)
		if !ok {
			return Band{}, fmt.Errorf("%s.days: %q is not a day; write mon, tue, wed, thu, fri, sat or sun", field, d)
		}
		if slices.Contains(out.Days, wd) {
			return Band{}, fmt.Errorf("%s.days: %s is listed twice", field, d)
		}
		out.Days = append(out.Days, wd)
	}
	// Week order, Monday first, as Norwegians read a week.
	slices.SortFunc(out.Days, func(a, b time.Weekday) int { return mondayFirst(a) - mondayFirst(b) })
	var err error
	if out.From, err = parseClock(b.From, false); err != nil {
		return Band{}, fmt.Errorf("%s.from %q: %w", field, b.From, err)
	}
	if out.To, err = parseClock(b.To, true); err != nil {
		return Band{}, fmt.Errorf("%s.to %q: %w", field, b.To, err)
	}
	return out, nil
}

// spec is the inverse of tariff, in canonical form.
func (t *Tariff) spec() *tariffSpec {
	s := &tariffSpec{Name: t.Name, Rates: map[string]*rateSpec{}}
	for _, b := range t.Bands {
		bs := bandSpec{Name: b.Name, From: b.From.String(), To: b.To.String()}
		days := slices.Clone(b.Days)
		slices.SortFunc(days, func(a, b time.Weekday) int { return mondayFirst(a) - mondayFirst(b) })
		for _, d := range days {
			bs.Days = append(bs.Days, dayName(d))
		}
		s.Bands = append(s.Bands, bs)
	}
	for class, r := range t.Rates {
		rs := r.spec()
		s.Rates[class] = &rs
	}
	for _, z := range t.Zones {
		p := slices.Clone(z.Prefixes)
		slices.Sort(p)
		s.Zones = append(s.Zones, zoneSpec{Name: z.Name, Prefixes: p, rateSpec: z.Rate.spec()})
	}
	return s
}

func (r Rate) spec() rateSpec {
	rs := rateSpec{Price: r.Price.NOK(), Per: string(r.Per)}
	if r.Connect != 0 {
		rs.Connect = r.Connect.NOK()
	}
	for _, b := range r.Bands {
		bs := bandRateSpec{Band: b.Band, Per: string(b.Per)}
		if b.Connect != nil {
			bs.Connect = b.Connect.NOK()
		}
		if b.Price != nil {
			bs.Price = b.Price.NOK()
		}
		rs.Bands = append(rs.Bands, bs)
	}
	return rs
}
