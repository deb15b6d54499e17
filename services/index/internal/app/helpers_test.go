package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/faultproxy"
)

// env is one test's private topics, group and indices on the shared stack, on one engine.
type env struct {
	t                       testing.TB
	kc                      kafkax.Config
	eng                     testenv.Engine
	sc                      *search.Client
	topic, dlq, group, pref string
}

// forEachEngine runs test once per search engine of the test stack (OpenSearch 2 and
// Elasticsearch 8 under `make test`), as parallel subtests named after the engine.
func forEachEngine(t *testing.T, test func(t *testing.T, eng testenv.Engine)) {
	for _, eng := range testenv.SearchEngines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			test(t, eng)
		})
	}
}

func newEnv(t *testing.T, eng testenv.Engine) *env {
	t.Helper()
	sc, err := search.New(eng.Config)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kc: testenv.Kafka(t), eng: eng, sc: sc}
	e.topic, e.dlq = testenv.Name(t, "nfidx-in"), testenv.Name(t, "nfidx-dlq")
	e.group, e.pref = testenv.Name(t, "nfidx-g"), testenv.Name(t, "nfidx")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.kc.EnsureTopics(ctx, e.topic, e.dlq); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.sc.Do(ctx, http.MethodDelete, "/"+e.pref+"-*", nil, nil)
		_ = e.sc.Do(ctx, http.MethodDelete, "/_index_template/"+e.pref, nil, nil)
		_, _ = e.kc.Client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{e.topic, e.dlq}})
	})
	return e
}

// args are the flags that point the service at this test's names and engine.
func (e *env) args(extra ...string) []string {
	return e.argsVia("", extra...)
}

// argsVia is args with the engine reached through proxyURL (a faultproxy in front of it, spoken
// to in plain HTTP with the engine's credentials) unless proxyURL is empty.
func (e *env) argsVia(proxyURL string, extra ...string) []string {
	a := []string{
		"--kafka-brokers", strings.Join(e.kc.Brokers, ","), "--kafka-partitions", "3",
		"--topic", e.topic, "--dlq-topic", e.dlq, "--group", e.group, "--index-prefix", e.pref,
		"--admin-addr", testenv.FreeAddr(e.t), "--log-format", "text", "--log-level", "warn",
		"--flush-interval", "50ms", "--retry-max", "1s", "--lag-interval", "1s",
	}
	a = append(a, searchFlags(e.eng, proxyURL)...)
	return append(a, extra...)
}

// searchFlags are the flags that reach eng (directly, or through proxyURL): URL, credentials,
// CA, and the text analyzer its build has (Elasticsearch's integ-test build lacks the english
// analyzer of analysis-common, so its indices use standard).
func searchFlags(eng testenv.Engine, proxyURL string) []string {
	c := eng.Config
	var a []string
	if proxyURL != "" {
		a = append(a, "--search-url", proxyURL)
	} else {
		a = append(a, "--search-url", strings.Join(c.URLs, ","))
		if c.CAFile != "" {
			a = append(a, "--search-ca-file", c.CAFile)
		}
	}
	if c.Username != "" {
		a = append(a, "--search-username", c.Username, "--search-password", string(c.Password))
	}
	if eng.Name == "elasticsearch" {
		a = append(a, "--text-analyzer", "standard")
	}
	return a
}

// proxy starts a faultproxy in front of the test's engine.
func (e *env) proxy(t testing.TB) *faultproxy.Proxy {
	t.Helper()
	tc, err := e.eng.Config.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(e.eng.Config.URLs[0], tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// articles returns n enriched articles over two publication months, with entities and dates.
func articles(n int, tag string) []article.Enriched {
	var out []article.Enriched
	for i := 0; i < n; i++ {
		pub := time.Date(2019, time.Month(7+i%2), 1+i%28, 8, 0, 0, 0, time.UTC)
		out = append(out, article.Enriched{
			Article: article.Article{
				ID: fmt.Sprintf("%s-%05d", tag, i), Source: "test", URL: fmt.Sprintf("https://example.org/%s/%d", tag, i),
				Title: fmt.Sprintf("Article %d about Ali Shamkhani", i), Body: "Yesterday Ali Shamkhani met the Syrian delegation in Tehran.",
				Language: "en", PublishedAt: pub, IngestedAt: time.Now().UTC(),
			},
			EnrichedAt: time.Now().UTC(), EnrichmentVersion: "test",
			Entities: []article.Entity{
				{Name: "Ali Shamkhani", Type: article.TypePerson, Mentions: []article.Mention{{Field: "body", Start: 10, End: 23}}},
				{Name: "Tehran", Type: article.TypeLoc},
				{Name: "Syrian", Type: article.TypeMisc},
			},
			Dates: []article.DateMention{{Text: "Yesterday", Field: "body", Start: 0, End: 9, Value: pub.AddDate(0, 0, -1).Format("2006-01-02"),
				Granularity: "day", GTE: pub.AddDate(0, 0, -1).Format("2006-01-02"), LTE: pub.AddDate(0, 0, -1).Format("2006-01-02"), Relative: true}},
		})
	}
	return out
}

func messages(t testing.TB, arts []article.Enriched) []kafka.Message {
	var out []kafka.Message
	for _, a := range arts {
		v, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kafka.Message{Key: []byte(a.ID), Value: v})
	}
	return out
}

func (e *env) produce(t testing.TB, msgs []kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := e.kc.NewWriter(e.topic)
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// count refreshes the test's indices and counts the documents behind the read alias.
func (e *env) count(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sc.Do(ctx, http.MethodPost, "/"+e.pref+"-*/_refresh", nil, nil); err != nil {
		return -1
	}
	var res struct {
		Count int `json:"count"`
	}
	if err := e.sc.Do(ctx, http.MethodGet, "/"+e.pref+"/_count", nil, &res); err != nil {
		return -1
	}
	return res.Count
}

// lag is the group's total uncommitted messages on the input topic.
func (e *env) lag(t testing.TB) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := e.kc.Lag(ctx, e.group, e.topic)
	if err != nil {
		return -1
	}
	var sum int64
	for _, v := range l {
		sum += v
	}
	return sum
}

// dlqCount is how many records the test's dead-letter topic holds.
func (e *env) dlqCount(t testing.TB) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := e.kc.Lag(ctx, "nobody-"+e.group, e.dlq)
	if err != nil {
		t.Fatalf("counting dead letters: %v", err)
	}
	var sum int64
	for _, v := range l {
		sum += v
	}
	return sum
}

// during checks cond every 200 ms for the whole of d, failing as soon as it does not hold.
func during(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if ok, state := cond(); !ok {
			t.Fatalf("%s: violated (%s)", what, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
