package billing

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// FuzzParseTariff: the parser never panics, and whatever it accepts has a
// canonical JSON form that parses back to the same bytes and rates a call
// without panicking.
func FuzzParseTariff(f *testing.F) {
	if b, err := os.ReadFile("testdata/tariff.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Add([]byte(`{"name":"j","rates":{"national":{"price":"0.19","per":"minute"},"mobile":{"price":"0.0049","per":"second"},"shared-cost":{"price":"1","per":"minute"},"premium":{"price":"1","per":"minute"},"short":{"price":"1","per":"minute"},"international":{"price":"1","per":"minute"}}}`))
	f.Add([]byte("name: x\nrates: {mobile: {price: 0,49}}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	at := time.Date(2026, 11, 7, 6, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTariff(data)
		if err != nil {
			return
		}
		j1, err := tr.JSON()
		if err != nil {
			t.Fatalf("accepted tariff has no JSON: %v", err)
		}
		tr2, err := ParseTariff(j1)
		if err != nil {
			t.Fatalf("canonical JSON does not parse: %v\n%s", err, j1)
		}
		j2, err := tr2.JSON()
		if err != nil || !bytes.Equal(j1, j2) {
			t.Fatalf("canonical JSON not stable (%v):\n%s\n---\n%s", err, j1, j2)
		}
		for _, n := range []string{"+4791234567", "+46812345678", "+18765551234", "+4782012345"} {
			if r, err := tr.Rate(call(1, "2001", n, at, 61)); err == nil && r.PriceOre < 0 {
				t.Fatalf("negative price %+v", r)
			}
		}
	})
}
