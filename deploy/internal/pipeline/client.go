package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/search"
)

// IngestItem is ingest's verdict on one item of a request.
type IngestItem struct {
	Index  int    `json:"index"`
	Status string `json:"status"`
	ID     string `json:"id"`
	Error  *struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// IngestResult is ingest's answer to POST /v1/articles.
type IngestResult struct {
	Status     int          `json:"-"`
	Accepted   int          `json:"accepted"`
	Duplicates int          `json:"duplicates"`
	Rejected   int          `json:"rejected"`
	Items      []IngestItem `json:"items"`
	Error      string       `json:"error"`
}

// Post sends body with contentType to ingest's POST /v1/articles (query may be nil).
func Post(ctx context.Context, ingestURL, token, contentType string, body []byte, query url.Values) (IngestResult, error) {
	u := strings.TrimRight(ingestURL, "/") + "/v1/articles"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return IngestResult{}, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return IngestResult{}, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := IngestResult{Status: res.StatusCode}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("ingest answered %d with a body that is not JSON: %.200s", res.StatusCode, data)
	}
	return r, nil
}

// NDJSON encodes articles as JSON Lines.
func NDJSON(as []article.Article) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range as {
		_ = enc.Encode(&as[i])
	}
	return b.Bytes()
}

// Count returns the number of documents in index (an index, alias or pattern) after a refresh.
func Count(ctx context.Context, c *search.Client, index string) (int, error) {
	_ = c.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil)
	var res struct {
		Count int `json:"count"`
	}
	if err := c.Do(ctx, http.MethodGet, "/"+index+"/_count", nil, &res); err != nil {
		return 0, err
	}
	return res.Count, nil
}

// Bucket is one terms-aggregation bucket.
type Bucket struct {
	Key   string `json:"key"`
	Count int    `json:"doc_count"`
}

// TopTerms returns the n most frequent values of a keyword field.
func TopTerms(ctx context.Context, c *search.Client, index, field string, n int) ([]Bucket, error) {
	q := map[string]any{"size": 0, "aggs": map[string]any{"top": map[string]any{"terms": map[string]any{"field": field, "size": n}}}}
	var res struct {
		Aggregations struct {
			Top struct {
				Buckets []Bucket `json:"buckets"`
			} `json:"top"`
		} `json:"aggregations"`
	}
	if err := c.Do(ctx, http.MethodPost, "/"+index+"/_search", q, &res); err != nil {
		return nil, err
	}
	return res.Aggregations.Top.Buckets, nil
}

// Hit is one search result.
type Hit struct {
	ID     string         `json:"_id"`
	Source map[string]any `json:"_source"`
}

// Search runs a query body and returns the total and the hits.
func Search(ctx context.Context, c *search.Client, index string, query map[string]any) (int, []Hit, error) {
	var res struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []Hit `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Do(ctx, http.MethodPost, "/"+index+"/_search", query, &res); err != nil {
		return 0, nil, err
	}
	return res.Hits.Total.Value, res.Hits.Hits, nil
}
