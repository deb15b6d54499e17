package search_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestSearchNodeRoundTrip is the foundation's smoke test against the real search node: the
// go-elasticsearch transport and BulkIndexer (without the product check) create an index,
// bulk-index with every item checked, refresh and search.
func TestSearchNodeRoundTrip(t *testing.T) {
	for _, e := range testenv.SearchEngines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, e)
		})
	}
}

func roundTrip(t *testing.T, te testenv.Engine) {
	c, err := search.New(te.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eng, err := c.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := te.Name; want != "external" && eng.Distribution != want {
		t.Fatalf("engine %+v, want %s", eng, want)
	}
	t.Logf("search engine: %s (cluster %s)", eng, eng.ClusterName)

	index := testenv.Name(t, "smoke")
	t.Cleanup(func() { _ = c.Do(context.Background(), http.MethodDelete, "/"+index, nil, nil) })
	mapping := `{"settings":{"number_of_shards":1,"number_of_replicas":0},
	  "mappings":{"dynamic":"strict","properties":{"title":{"type":"text"},"n":{"type":"integer"},"source":{"type":"keyword"}}}}`
	if err := c.Do(ctx, http.MethodPut, "/"+index, mapping, nil); err != nil {
		t.Fatalf("creating index: %v", err)
	}

	const n = 500
	var ok, failed atomic.Int64
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: c, Index: index, NumWorkers: 2, FlushBytes: 64 << 10, FlushInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		doc := fmt.Sprintf(`{"title":"article number %d about Kafka","n":%d,"source":"s%d"}`, i, i, i%5)
		err := bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: fmt.Sprintf("doc-%d", i), Body: strings.NewReader(doc),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) { ok.Add(1) },
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, err error) {
				failed.Add(1)
				t.Errorf("item failed: %v %+v", err, r.Error)
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// One document the strict mapping must reject, item by item, while the rest succeed.
	var rejected atomic.Int64
	_ = bi.Add(ctx, esutil.BulkIndexerItem{Action: "index", DocumentID: "bad", Body: strings.NewReader(`{"unknown_field":1}`),
		OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, r esutil.BulkIndexerResponseItem, _ error) {
			if r.Status == 400 && r.Error.Type == "strict_dynamic_mapping_exception" {
				rejected.Add(1)
			}
		}})
	if err := bi.Close(ctx); err != nil {
		t.Fatalf("bulk close: %v", err)
	}
	if ok.Load() != n || failed.Load() != 0 || rejected.Load() != 1 {
		t.Fatalf("bulk: %d ok, %d failed, %d rejected; want %d, 0, 1", ok.Load(), failed.Load(), rejected.Load(), n)
	}
	if err := c.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
		} `json:"hits"`
		Aggregations struct {
			Sources struct {
				Buckets []struct {
					Key      string `json:"key"`
					DocCount int    `json:"doc_count"`
				} `json:"buckets"`
			} `json:"sources"`
		} `json:"aggregations"`
	}
	q := map[string]any{"query": map[string]any{"match": map[string]any{"title": "kafka"}}, "track_total_hits": true,
		"aggs": map[string]any{"sources": map[string]any{"terms": map[string]any{"field": "source"}}}}
	var body bytes.Buffer
	_ = json.NewEncoder(&body).Encode(q)
	if err := c.Do(ctx, http.MethodPost, "/"+index+"/_search", body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Hits.Total.Value != n {
		t.Fatalf("search found %d, want %d", res.Hits.Total.Value, n)
	}
	if len(res.Aggregations.Sources.Buckets) != 5 || res.Aggregations.Sources.Buckets[0].DocCount != n/5 {
		t.Fatalf("terms aggregation: %+v", res.Aggregations.Sources.Buckets)
	}
	// Errors carry the status: a missing index is a 404.
	if err := c.Do(ctx, http.MethodGet, "/"+index+"-missing/_count", nil, nil); search.StatusOf(err) != 404 {
		t.Fatalf("want a 404 error, got %v", err)
	}
}
