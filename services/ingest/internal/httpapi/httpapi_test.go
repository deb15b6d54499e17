package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakePub records every Publish call; err makes it fail like an unreachable broker.
type fakePub struct {
	mu    sync.Mutex
	calls [][]article.Article
	err   error
}

func (f *fakePub) Publish(_ context.Context, recs []publish.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, articles(recs))
	return f.err
}

// testLimits are the serve defaults, so the table tests what users get.
var testLimits = Limits{MaxRequestBytes: 8 << 20, MaxItems: 10000, Article: normalize.DefaultLimits}

func newServer(t *testing.T, pub Publisher, token string) *httptest.Server {
	reg := metrics.NewRegistry()
	stage := metrics.NewStage(reg, "ingest")
	h := &Handler{Pub: pub, Limits: testLimits, RetryAfter: 7 * time.Second,
		Log: slog.New(slog.DiscardHandler), Metrics: intake.NewMetrics(reg, stage, "t"), Requests: NewRequestsMetric(reg)}
	if token != "" {
		h.Auth = NewAuth(config.SplitSecrets(token))
	}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, ct string, body []byte, hdr ...string) (*http.Response, Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Response
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response is not JSON: %v: %q", err, b)
	}
	return resp, r
}

const good = `{"title":"Troops enter Khan Shaykhun","body":"Syrian army troops entered the town yesterday.","url":"https://example.com/a","published_at":"2019-08-21T08:00:00Z"}`

func TestBadInputs(t *testing.T) {
	garbage := make([]byte, 4096)
	_, _ = rand.Read(garbage)
	garbage[0] = 0xff // certainly not UTF-8
	var many bytes.Buffer
	for range 100_000 {
		many.WriteString("{}\n")
	}
	tests := []struct {
		name   string
		ct     string
		path   string
		body   []byte
		status int
		code   string // error code of the first item ("" = not checked)
		field  string
		errSub string // substring of the request-level error
	}{
		{name: "malformed JSON", ct: "application/json", body: []byte(`[{"title":"a","body":"b"},{"tit`), status: 400, errSub: "malformed JSON"},
		{name: "malformed object", ct: "application/json", body: []byte(`{"title":`), status: 400, code: "malformed"},
		{name: "wrong type", ct: "application/json", body: []byte(`{"title":["a"],"body":"b"}`), status: 400, code: "wrong_type", field: "title"},
		{name: "invalid UTF-8 in JSON", ct: "application/json", body: []byte("{\"title\":\"caf\xe9\",\"body\":\"b\"}"), status: 400, code: "invalid_utf8", field: "title"},
		{name: "invalid UTF-8 text", ct: "text/plain", body: []byte("Title\nbody \xc3\x28"), status: 400, code: "invalid_utf8", field: "body"},
		{name: "empty title", ct: "application/json", body: []byte(`{"title":"  ","body":"b"}`), status: 400, code: "missing", field: "title"},
		{name: "empty body text", ct: "text/plain", body: []byte("Title only\n\n"), status: 400, code: "missing", field: "body"},
		{name: "empty request", ct: "application/x-ndjson", body: nil, status: 400, errSub: "no articles"},
		{name: "10 MB body", ct: "application/json", body: []byte(`{"title":"t","body":"` + strings.Repeat("a", 10<<20) + `"}`), status: 413, errSub: "limit"},
		{name: "1 MB body under request limit", ct: "application/json", body: []byte(`{"title":"t","body":"` + strings.Repeat("a ", 512<<10) + `"}`), status: 400, code: "too_large", field: "body"},
		{name: "100k items", ct: "application/x-ndjson", body: many.Bytes(), status: 413, errSub: "more than 10000 items"},
		{name: "HTML soup with text", ct: "application/json", body: []byte(`{"title":"<h1>Soup</h1>","body":"<div><p>Real <b>text<p>more</div></span><script>x()</script>"}`), status: 202},
		{name: "HTML soup without text", ct: "application/json", body: []byte(`{"title":"Soup","body":"<div><script>x()</script><style>a{}</style></div>"}`), status: 400, code: "missing", field: "body"},
		{name: "binary garbage as JSON", ct: "application/json", body: garbage, status: 400},
		{name: "binary garbage as NDJSON", ct: "application/x-ndjson", body: garbage, status: 400},
		{name: "binary garbage as text", ct: "text/plain", body: garbage, status: 400, code: "invalid_utf8"},
		{name: "control characters", ct: "text/plain", body: []byte("Title\n\x00\x01\x02binary"), status: 400, code: "binary", field: "body"},
		{name: "wrong content type", ct: "application/xml", body: []byte(`<a/>`), status: 415, errSub: "unsupported Content-Type"},
		{name: "no content type", ct: "", body: []byte(good), status: 415, errSub: "missing Content-Type"},
		{name: "latin-1 charset", ct: "text/plain; charset=iso-8859-1", body: []byte("T\nb"), status: 415, errSub: "charset"},
		{name: "bad URL", ct: "application/json", body: []byte(`{"title":"t","body":"b","url":"javascript:alert(1)"}`), status: 400, code: "invalid_url", field: "url"},
		{name: "bad date", ct: "application/json", body: []byte(`{"title":"t","body":"b","published_at":"last Tuesday"}`), status: 400, code: "invalid_date", field: "published_at"},
		{name: "not an object", ct: "application/json", body: []byte(`"just a string"`), status: 400, code: "malformed"},
		{name: "text with bad query date", ct: "text/plain", path: "?published_at=soon", body: []byte("T\nbody"), status: 400, code: "invalid_date", field: "published_at"},
	}
	pub := &fakePub{}
	srv := newServer(t, pub, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, r := post(t, srv.URL+"/v1/articles"+tt.path, tt.ct, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; response %+v", resp.StatusCode, tt.status, r)
			}
			if tt.errSub != "" && !strings.Contains(r.Error, tt.errSub) {
				t.Errorf("error %q, want it to contain %q", r.Error, tt.errSub)
			}
			if tt.status == 400 && tt.errSub == "" {
				if len(r.Items) == 0 || r.Items[0].Status != intake.StatusRejected || r.Items[0].Error == nil || r.Items[0].Error.Reason == "" {
					t.Fatalf("want per-item reasons, got %+v", r)
				}
				if e := r.Items[0].Error; (tt.code != "" && e.Code != tt.code) || (tt.field != "" && e.Field != tt.field) {
					t.Errorf("item error %+v, want code %q field %q", e, tt.code, tt.field)
				}
			}
		})
	}
	// Only the accepted request reached the publisher.
	if len(pub.calls) != 1 || pub.calls[0][0].Body != "Real text\n\nmore" {
		t.Fatalf("publisher calls %+v", pub.calls)
	}
}

func TestContentTypes(t *testing.T) {
	pub := &fakePub{}
	srv := newServer(t, pub, "")
	second := `{"title":"Second","body":"Another article body.","source":"bbc","authors":["A"]}`
	tests := []struct {
		name, ct, path, body string
		n                    int
	}{
		{"object", "application/json; charset=utf-8", "", good, 1},
		{"array", "application/json", "", "[" + good + ",\n" + second + "]", 2},
		{"ndjson", "application/x-ndjson", "", good + "\n" + second + "\n", 2},
		{"text", "text/plain; charset=UTF-8", "?source=newsline&url=https://example.com/b&published_at=2019-08-21&author=Ann&author=Bo", "Title\n\nBody ‘text’ – kept.\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub.calls = nil
			resp, r := post(t, srv.URL+"/v1/articles"+tt.path, tt.ct, []byte(tt.body))
			if resp.StatusCode != 202 || r.Accepted != tt.n || len(r.Items) != tt.n {
				t.Fatalf("status %d response %+v", resp.StatusCode, r)
			}
			if len(pub.calls) != 1 || len(pub.calls[0]) != tt.n {
				t.Fatalf("want one Publish call with %d articles, got %d calls", tt.n, len(pub.calls))
			}
			for i, it := range r.Items {
				if it.ID != pub.calls[0][i].ID || it.Status != intake.StatusAccepted {
					t.Errorf("item %d: %+v", i, it)
				}
			}
		})
	}
	a := pub.calls[0][0] // the text article
	if a.Source != "newsline" || a.URL != "https://example.com/b" || a.Body != "Body ‘text’ – kept.\n" || strings.Join(a.Authors, ",") != "Ann,Bo" ||
		a.PublishedAt != time.Date(2019, 8, 21, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("text article %+v", a)
	}
}

func TestMixedBatch(t *testing.T) {
	pub := &fakePub{}
	srv := newServer(t, pub, "")
	body := good + "\n" + `{"title":"","body":"x"}` + "\n" + good + "\n" + `{"title":"No date","body":"Body."}`
	resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", []byte(body))
	if resp.StatusCode != 202 || r.Accepted != 2 || r.Rejected != 1 || r.Duplicates != 1 {
		t.Fatalf("status %d %+v", resp.StatusCode, r)
	}
	st := []string{r.Items[0].Status, r.Items[1].Status, r.Items[2].Status, r.Items[3].Status}
	// Item 2 repeats item 0: the later copy is written, the earlier one is the duplicate.
	if strings.Join(st, ",") != "duplicate,rejected,accepted,accepted" || r.Items[1].Line != 2 || r.Items[1].Error.Field != "title" ||
		r.Items[0].SupersededBy != 2 || r.Items[0].ID != r.Items[2].ID {
		t.Fatalf("items %+v", r.Items)
	}
	if len(r.Items[3].Notes) == 0 || r.Items[3].Notes[0] != normalize.NoteMissingDate {
		t.Fatalf("missing-date note absent: %+v", r.Items[3])
	}
	if len(pub.calls) != 1 || len(pub.calls[0]) != 2 {
		t.Fatalf("publisher calls %d", len(pub.calls))
	}
}

// TestDateBoundsAndLaterCopy: publication dates before the floor (1900-01-01) or more than two
// days ahead are rejected item by item with the reason, the rest of the request is accepted, and
// of two copies of one article the later one is written.
func TestDateBoundsAndLaterCopy(t *testing.T) {
	pub := &fakePub{}
	srv := newServer(t, pub, "")
	now := time.Now().UTC()
	item := func(title, body, url, published string) string {
		return `{"title":"` + title + `","body":"` + body + `","url":"` + url + `","published_at":"` + published + `"}` + "\n"
	}
	body := item("Old", "b", "https://example.com/old", "1899-12-31T00:00:00Z") +
		item("Ahead", "b", "https://example.com/ahead", now.Add(72*time.Hour).Format(time.RFC3339)) +
		item("Story", "first version", "https://example.com/s", "1900-01-01") +
		item("Tomorrow", "b", "https://example.com/t", now.Add(24*time.Hour).Format(time.RFC3339)) +
		item("Story", "corrected version", "https://example.com/s", "1987-02-26")
	resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", []byte(body))
	if resp.StatusCode != 202 || r.Accepted != 2 || r.Rejected != 2 || r.Duplicates != 1 {
		t.Fatalf("status %d %+v", resp.StatusCode, r)
	}
	for _, i := range []int{0, 1} {
		if e := r.Items[i].Error; e == nil || e.Code != "date_out_of_range" || e.Field != "published_at" || e.Reason == "" {
			t.Errorf("item %d: %+v", i, r.Items[i])
		}
	}
	if r.Items[2].Status != intake.StatusDuplicate || r.Items[2].SupersededBy != 4 || r.Items[4].Status != intake.StatusAccepted {
		t.Errorf("items 2 and 4: %+v %+v", r.Items[2], r.Items[4])
	}
	if len(pub.calls) != 1 || len(pub.calls[0]) != 2 || pub.calls[0][1].Body != "corrected version" {
		t.Fatalf("published %+v", pub.calls)
	}
	// A request whose every item is out of range is a 400 with the reasons.
	resp, r = post(t, srv.URL+"/v1/articles", "application/json", []byte(`{"title":"t","body":"b","published_at":"0001-01-01T00:00:00Z"}`))
	if resp.StatusCode != 400 || len(r.Items) != 1 || r.Items[0].Error.Code != "date_out_of_range" || !strings.Contains(r.Items[0].Error.Reason, "1900-01-01") {
		t.Fatalf("status %d %+v", resp.StatusCode, r)
	}
}

func TestKafkaUnavailable(t *testing.T) {
	pub := &fakePub{err: errors.New("dial tcp: connection refused")}
	srv := newServer(t, pub, "")
	resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", []byte(good+"\n"+`{"title":"b","body":"c"}`))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" || r.Accepted != 0 || len(r.Items) != 0 {
		t.Fatalf("status %d Retry-After %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), r)
	}
	if len(pub.calls) != 1 || len(pub.calls[0]) != 2 {
		t.Fatalf("want one all-or-nothing write of both articles, got %d calls", len(pub.calls))
	}
}

// TestToken: with several tokens configured (a rotation), each one is accepted and anything
// else gets 401 with a Bearer challenge and a reason that never echoes what was sent; nothing
// is published for a refused request, and nothing about the token reaches the log.
func TestToken(t *testing.T) {
	pub := &fakePub{}
	var logs bytes.Buffer
	reg := metrics.NewRegistry()
	h := &Handler{Pub: pub, Limits: testLimits, RetryAfter: time.Second, Auth: NewAuth(config.SplitSecrets("old-s3cret, new-s3cret")),
		Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t")}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name, auth, reason, challengeErr string
		status                           int
	}{
		{"no header", "", "missing bearer token", "", 401},
		{"old token", "Bearer old-s3cret", "", "", 202},
		{"new token", "Bearer new-s3cret", "", "", 202},
		{"scheme in lower case", "bearer new-s3cret", "", "", 202},
		{"blanks around", "Bearer   new-s3cret  ", "", "", 202},
		{"wrong token", "Bearer wrong-guess", "wrong bearer token", "invalid_token", 401},
		{"prefix of a token", "Bearer new-s3cre", "wrong bearer token", "invalid_token", 401},
		{"token with a suffix", "Bearer new-s3cretX", "wrong bearer token", "invalid_token", 401},
		{"both tokens at once", "Bearer old-s3cret,new-s3cret", "wrong bearer token", "invalid_token", 401},
		{"empty bearer", "Bearer ", "missing bearer token", "invalid_request", 401},
		{"Basic", "Basic b2xkLXMzY3JldA==", "not a bearer token", "invalid_request", 401},
		{"token without scheme", "new-s3cret", "not a bearer token", "invalid_request", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub.calls = nil
			resp, r := post(t, srv.URL+"/v1/articles", "application/json", []byte(good), "Authorization", tt.auth)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%+v)", resp.StatusCode, tt.status, r)
			}
			if tt.status != 401 {
				if len(pub.calls) != 1 {
					t.Fatalf("accepted request published %d times", len(pub.calls))
				}
				return
			}
			ch := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="newsflow ingest"`) || (tt.challengeErr != "") != strings.Contains(ch, "error=") ||
				!strings.Contains(ch, tt.challengeErr) {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge with error %q", ch, tt.challengeErr)
			}
			if !strings.Contains(r.Error, tt.reason) || strings.Contains(r.Error, "s3cre") || strings.Contains(r.Error, "guess") {
				t.Errorf("reason %q, want %q and nothing of the presented token", r.Error, tt.reason)
			}
			if len(pub.calls) != 0 {
				t.Errorf("refused request was published")
			}
		})
	}
	for _, s := range []string{"s3cre", "guess", "b2xk"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows a presented token (%q):\n%s", s, logs.String())
		}
	}
}

// TestAuthCheck covers the token check itself: every configured token matches, nothing else
// does, empty tokens never match, and no tokens at all means no authentication.
func TestAuthCheck(t *testing.T) {
	a := NewAuth([]config.Secret{"tok-one", "tok-two", "tok-three", ""})
	if a.Tokens() != 3 {
		t.Fatalf("%d tokens, want 3 (the empty one skipped)", a.Tokens())
	}
	for _, tt := range []struct {
		header string
		ok     bool
	}{
		{"Bearer tok-one", true}, {"Bearer tok-two", true}, {"Bearer tok-three", true},
		{"Bearer tok-four", false}, {"Bearer tok-on", false}, {"Bearer TOK-ONE", false},
		{"Bearer ", false}, {"Bearer", false}, {"", false}, {"tok-one", false},
	} {
		if ok, reason, challenge := a.Check(tt.header); ok != tt.ok || (!ok && (reason == "" || challenge == "")) {
			t.Errorf("Check(%q) = %v, %q, %q; want ok=%v", tt.header, ok, reason, challenge, tt.ok)
		}
	}
	for _, none := range [][]config.Secret{nil, {}, {""}} {
		if NewAuth(none) != nil {
			t.Errorf("NewAuth(%q) is not nil", none)
		}
		var nilAuth *Auth
		if ok, _, _ := nilAuth.Check(""); !ok {
			t.Errorf("no tokens must mean no authentication")
		}
	}
}

// BenchmarkAuthCheck shows the cost of a check does not depend on which token matches, or on
// whether any does (compare the sub-benchmarks' ns/op).
func BenchmarkAuthCheck(b *testing.B) {
	a := NewAuth([]config.Secret{"first-token-aaaaaaaaaaaa", "second-token-bbbbbbbbbbb", "third-token-ccccccccccccc"})
	for _, h := range []string{"Bearer first-token-aaaaaaaaaaaa", "Bearer third-token-ccccccccccccc", "Bearer x", "Bearer " + strings.Repeat("x", 64)} {
		b.Run(h[7:min(len(h), 14)], func(b *testing.B) {
			for b.Loop() {
				a.Check(h)
			}
		})
	}
}

func TestOpenAPI(t *testing.T) {
	srv := newServer(t, &fakePub{}, "")
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"openapi: 3", "/v1/articles", "application/x-ndjson", "text/plain", "Retry-After", `"413"`, `"415"`, `"401"`, `"429"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("openapi.yaml lacks %q", want)
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r2, err := http.Get(srv.URL + "/v1/articles")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/articles: %d", r2.StatusCode)
	}
}
