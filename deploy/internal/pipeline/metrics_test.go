package pipeline

import (
	"math"
	"strings"
	"testing"
)

const expo = `# HELP x_total h
# TYPE x_total counter
x_total{topic="a"} 3
x_total{topic="b",reason="a,b \"q\""} 4
plain 7
lat_bucket{le="0.1"} 50
lat_bucket{le="0.2"} 90
lat_bucket{le="+Inf"} 100
lat_sum 12
lat_count 100
`

func TestParseAndQuery(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(expo))
	if err != nil {
		t.Fatal(err)
	}
	if m.Sum("x_total") != 7 || m.Sum("x_total", "topic", "a") != 3 || m.Sum("plain") != 7 {
		t.Fatalf("sums: %v", m)
	}
	if got := m["x_total"][1].Labels["reason"]; got != `a,b "q"` {
		t.Fatalf("label with comma and quotes: %q", got)
	}
	if p50 := m.Quantile("lat", 0.5); math.Abs(p50-0.1) > 1e-9 {
		t.Fatalf("p50 %v", p50)
	}
	if p70 := m.Quantile("lat", 0.7); math.Abs(p70-0.15) > 1e-9 {
		t.Fatalf("p70 %v, want 0.15 (interpolated)", p70)
	}
	if p99 := m.Quantile("lat", 0.99); p99 != 0.2 {
		t.Fatalf("p99 in the +Inf bucket: %v, want the last finite bound", p99)
	}
	if !math.IsNaN(m.Quantile("missing", 0.5)) {
		t.Fatal("missing histogram must be NaN")
	}
}
