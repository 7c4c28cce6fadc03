package billing

import (
	"testing"
	"time"
)

// BenchmarkRate is pricing one call in memory (no store): mobile, national
// and international calls in turn, by day and in the evening.
func BenchmarkRate(b *testing.B) {
	tr := loadTariff(b)
	day := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	calls := []struct {
		number string
		at     time.Time
	}{
		{"+4791234567", day}, {"+4722334455", day}, {"+46812345678", day}, {"+18765551234", day.Add(10 * time.Hour)},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := calls[i%len(calls)]
		if _, err := tr.Rate(call(int64(i), "2001", c.number, c.at, int64(30+i%600))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
