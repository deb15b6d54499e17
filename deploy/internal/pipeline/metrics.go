// Package pipeline drives a running newsflow pipeline from the outside, the way an operator or a
// client would: it posts articles to ingest's HTTP API, reads the services' /metrics, and queries
// the search engine. The demo, the end-to-end tests and the benchmarks share it.
package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Sample is one series of a scrape.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Metrics is one scrape of a /metrics endpoint: series by metric name (histograms keep their
// _bucket, _sum and _count series under those names).
type Metrics map[string][]Sample

// Scrape reads the Prometheus text exposition at url.
func Scrape(ctx context.Context, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, res.Status)
	}
	return ParseMetrics(res.Body)
}

// ParseMetrics parses the Prometheus text format (comments skipped).
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := line, map[string]string{}, ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("malformed series %q", line)
			}
			name, rest = line[:i], strings.TrimSpace(line[j+1:])
			for _, kv := range splitLabels(line[i+1 : j]) {
				k, v, _ := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(v)
				if err != nil {
					uq = strings.Trim(v, `"`)
				}
				labels[k] = uq
			}
		} else {
			f := strings.Fields(line)
			if len(f) < 2 {
				return nil, fmt.Errorf("malformed series %q", line)
			}
			name, rest = f[0], f[1]
		}
		vs := strings.Fields(rest)
		if len(vs) == 0 {
			return nil, fmt.Errorf("series %q has no value", line)
		}
		v, err := strconv.ParseFloat(vs[0], 64)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", line, err)
		}
		m[name] = append(m[name], Sample{Labels: labels, Value: v})
	}
	return m, sc.Err()
}

func splitLabels(s string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// Sum adds up every series of name whose labels include match (key=value pairs).
func (m Metrics) Sum(name string, match ...string) float64 {
	total := 0.0
	for _, s := range m[name] {
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if s.Labels[match[i]] != match[i+1] {
				ok = false
			}
		}
		if ok {
			total += s.Value
		}
	}
	return total
}

// Quantile estimates quantile q of histogram name (all series merged) the way PromQL's
// histogram_quantile does: linear interpolation inside the bucket that holds the rank.
func (m Metrics) Quantile(name string, q float64) float64 {
	byLE := map[float64]float64{}
	for _, s := range m[name+"_bucket"] {
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		byLE[le] += s.Value
	}
	return quantile(byLE, q)
}

// Delta returns the histogram of b minus a (bucket by bucket), for figures of one run only.
func Delta(a, b Metrics, name string) map[float64]float64 {
	out := map[float64]float64{}
	for sign, mm := range map[float64]Metrics{-1: a, 1: b} {
		for _, s := range mm[name+"_bucket"] {
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err == nil {
				out[le] += sign * s.Value
			}
		}
	}
	return out
}

// QuantileOf estimates quantile q of cumulative buckets (upper bound → count).
func QuantileOf(buckets map[float64]float64, q float64) float64 { return quantile(buckets, q) }

func quantile(byLE map[float64]float64, q float64) float64 {
	if len(byLE) == 0 {
		return math.NaN()
	}
	les := make([]float64, 0, len(byLE))
	for le := range byLE {
		les = append(les, le)
	}
	sort.Float64s(les)
	total := byLE[les[len(les)-1]]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, le := range les {
		c := byLE[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevLE
			}
			if c == prevCount {
				return le
			}
			return prevLE + (le-prevLE)*(rank-prevCount)/(c-prevCount)
		}
		prevLE, prevCount = le, c
	}
	return les[len(les)-1]
}
