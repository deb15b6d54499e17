package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/faultproxy"
)

// start runs `index serve` in-process; the returned stop cancels it (as SIGTERM does) and waits.
func start(t *testing.T, args []string) (stop func()) {
	t.Helper()
	stop, _ = startLogged(t, args)
	return stop
}

// TestExactlyNAndIdempotent: N messages become exactly N documents, and the same messages
// delivered again leave N.
func TestExactlyNAndIdempotent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		const n = 300
		msgs := messages(t, articles(n, "a"))
		e.produce(t, msgs)
		stop := start(t, e.args("--batch-size", "100"))

		testenv.Eventually(t, 90*time.Second, "all documents indexed and committed", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == n && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})

		e.produce(t, msgs) // the same messages again
		testenv.Eventually(t, 60*time.Second, "redelivered messages consumed", func() (bool, string) {
			l := e.lag(t)
			return l == 0, fmt.Sprintf("lag %d", l)
		})
		stop()
		if c := e.count(t); c != n {
			t.Fatalf("after redelivery: %d documents, want %d", c, n)
		}
		if d := e.dlqCount(t); d != 0 {
			t.Fatalf("%d dead letters, want 0", d)
		}

		// The mapping serves what the index exists for: terms aggregations on entities and range
		// queries on date mentions, through the read alias.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var agg struct {
			Aggregations struct {
				People struct {
					Buckets []struct {
						Key      string `json:"key"`
						DocCount int    `json:"doc_count"`
					} `json:"buckets"`
				} `json:"people"`
			} `json:"aggregations"`
		}
		// The english analyzer stems "delegations" to the body's "delegation"; the standard one
		// (Elasticsearch's integ-test build has no english analyzer) matches the word itself.
		word := "delegations"
		if e.eng.Name == "elasticsearch" {
			word = "delegation"
		}
		q := `{"size":0,"query":{"bool":{"must":[{"match":{"body":"` + word + `"}},{"range":{"date_mentions":{"gte":"2019-07-01","lte":"2019-07-31","relation":"intersects"}}}]}},
	       "aggs":{"people":{"terms":{"field":"entities.person"}}}}`
		if err := e.sc.Do(ctx, http.MethodPost, "/"+e.pref+"/_search", q, &agg); err != nil {
			t.Fatal(err)
		}
		b := agg.Aggregations.People.Buckets
		if len(b) != 1 || b[0].Key != "Ali Shamkhani" || b[0].DocCount == 0 || b[0].DocCount >= n {
			t.Fatalf("terms aggregation on entities.person over July mentions: %+v", b)
		}
	})
}

// TestRejectedGoToDLQ: a document the mapping rejects and undecodable messages go to the
// dead-letter topic with the reason; every other article is indexed.
func TestRejectedGoToDLQ(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		const n = 50
		good := articles(n, "g")
		bad := articles(1, "bad")[0]
		bad.Dates[0].GTE = "not-a-date"
		msgs := messages(t, good)
		msgs = append(msgs, messages(t, append(articles(0, ""), bad))...)
		msgs = append(msgs, kafka.Message{Key: []byte("junk"), Value: []byte(`{"id": "junk", "title": `)},
			kafka.Message{Key: []byte("noid"), Value: []byte(`{"title":"no id","published_at":"2019-08-01T00:00:00Z"}`)})
		e.produce(t, msgs)
		stop := start(t, e.args())
		testenv.Eventually(t, 90*time.Second, "good documents indexed, all committed", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == n && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})
		stop()
		if c := e.count(t); c != n {
			t.Fatalf("%d documents, want %d", c, n)
		}

		reasons := readDLQ(t, e, 3)
		// The engines name a value the mapping cannot parse differently: OpenSearch 2 says
		// mapper_parsing_exception, Elasticsearch 8 document_parsing_exception.
		parseErr := map[string]string{"elasticsearch": "document_parsing_exception"}[e.eng.Name]
		if parseErr == "" {
			parseErr = "mapper_parsing_exception"
		}
		want := map[string]string{
			bad.ID: parseErr,
			"junk": "decoding JSON",
			"noid": "no id",
		}
		for k, sub := range want {
			if !strings.Contains(reasons[k], sub) {
				t.Errorf("dead letter %s: reason %q, want it to mention %q", k, reasons[k], sub)
			}
		}
	})
}

// readDLQ reads n dead letters and returns their reasons by key, checking the other headers.
func readDLQ(t *testing.T, e *env, n int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := e.kc.NewReader(testenv.Name(t, "nfidx-dlqread"), e.dlq)
	defer r.Close()
	out := map[string]string{}
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("reading dead letters (%d of %d): %v", len(out), n, err)
		}
		if s := kafkax.Header(m, kafkax.HeaderStage); s != "index" {
			t.Errorf("dead letter stage header %q, want index", s)
		}
		if s := kafkax.Header(m, kafkax.HeaderTopic); s != e.topic {
			t.Errorf("dead letter original topic %q, want %s", s, e.topic)
		}
		out[string(m.Key)] = kafkax.Header(m, kafkax.HeaderError)
	}
	return out
}

// TestSearchOutage: the search node unreachable for a while mid-stream (connection refused and
// reset, through a proxy the test cuts), then 429/503 answers and item-level 429s: retries, then
// exactly N documents, nothing dead-lettered, nothing committed before it was indexed.
func TestSearchOutage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		proxy := e.proxy(t)
		const n = 400
		all := messages(t, articles(n, "o"))
		e.produce(t, all[:100])
		args := e.argsVia(proxy.URL(), "--batch-size", "40", "--retry-initial", "50ms")
		admin := args[indexOf(args, "--admin-addr")+1]
		stop := start(t, args)
		testenv.Eventually(t, 60*time.Second, "first documents indexed and committed", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == 100 && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})

		// Cut: real connection errors for ~12 s while more messages arrive.
		if err := proxy.Cut(); err != nil {
			t.Fatal(err)
		}
		e.produce(t, all[100:300])
		during(t, 12*time.Second, "nothing committed while the engine is unreachable", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			// lag -1: the broker did not answer this poll; that says nothing either way.
			return c == 100 && (l == 200 || l == -1), fmt.Sprintf("count %d, lag %d", c, l)
		})
		if err := proxy.Restore(); err != nil {
			t.Fatal(err)
		}

		// Overload: every 3rd _bulk answered 429/503 whole, every 3rd item of the rest a 429.
		proxy.SetMode(faultproxy.Faulty, 3)
		e.produce(t, all[300:])
		testenv.Eventually(t, 90*time.Second, "all documents indexed through the faults", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == n && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})
		proxy.SetMode(faultproxy.Pass, 1)
		if proxy.Injected.Load() == 0 {
			t.Fatal("the proxy injected no faults; the test proved nothing")
		}
		metrics := scrape(t, admin)
		stop()
		if c := e.count(t); c != n {
			t.Fatalf("%d documents, want %d", c, n)
		}
		if d := e.dlqCount(t); d != 0 {
			t.Fatalf("%d dead letters, want 0", d)
		}
		for _, name := range []string{
			`newsflow_index_retries_total{reason="connection"}`,
			`newsflow_index_retries_total{reason="item_429"}`,
			`newsflow_index_produced_total`,
			`newsflow_index_end_to_end_latency_seconds_bucket`,
			`newsflow_index_bulk_duration_seconds_bucket`,
			`newsflow_index_bulk_size_bytes_bucket`,
			`newsflow_index_consumer_lag_messages{partition="0"`,
		} {
			if !strings.Contains(metrics, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return -1
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
