package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// encodingPub checks records as the real publisher does (publish.Messages, with its record
// limit).
type encodingPub struct{ arts []article.Article }

func (p *encodingPub) Publish(_ context.Context, recs []publish.Record) error {
	if _, err := publish.Messages(recs); err != nil {
		return err
	}
	p.arts = append(p.arts, articles(recs)...)
	return nil
}

// articles are the articles of recs, for fakes that keep what they were given.
func articles(recs []publish.Record) []article.Article {
	out := make([]article.Article, len(recs))
	for i := range recs {
		out[i] = recs[i].Article
	}
	return out
}

// TestOversizedRecordIsPerItem: a request within --max-request-bytes and --max-items, one of
// whose articles would make a record Kafka cannot take (a body within --max-body-bytes that
// JSON escaping makes larger than 1 MB), gets 202 for the others and a per-item 400 reason for
// that one, never a whole-request 413. Markup ('<', '&') does not count six times.
func TestOversizedRecordIsPerItem(t *testing.T) {
	reg := metrics.NewRegistry()
	pub := &encodingPub{}
	lim := testLimits
	lim.Article = normalize.Limits{MaxTitleBytes: 2048, MaxBodyBytes: 900 << 10}
	h := &Handler{Pub: pub, Limits: lim, RetryAfter: time.Second, Log: slog.New(slog.DiscardHandler),
		Metrics: intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t")}
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()

	quotes := strings.Repeat(`\"q\" `, (890<<10)/4)            // 890 KiB of text, 1.3 MB as JSON
	markup := strings.Repeat(`a < b && c > d. `, (890<<10)/16) // 890 KiB, as many bytes in the record
	body := good + "\n" + `{"title":"Quotes","body":"` + quotes + `"}` + "\n" + `{"title":"Markup","body":"` + markup + `","language":"en"}` + "\n"
	resp, r := post(t, srv.URL+"/v1/articles", "application/x-ndjson", []byte(body))
	if resp.StatusCode != 202 || r.Accepted != 2 || r.Rejected != 1 || len(pub.arts) != 2 {
		t.Fatalf("status %d accepted %d rejected %d (%q), %d published", resp.StatusCode, r.Accepted, r.Rejected, r.Error, len(pub.arts))
	}
	it := r.Items[1]
	if it.Status != intake.StatusRejected || it.Line != 2 || it.Error.Code != decode.CodeTooLarge || !strings.Contains(it.Error.Reason, "Kafka record") {
		t.Fatalf("oversized item: %+v %+v", it, it.Error)
	}

	// Alone, the oversized article is a 400 with the reason, not a 413.
	resp, r = post(t, srv.URL+"/v1/articles", "application/json", []byte(`{"title":"Quotes","body":"`+quotes+`"}`))
	if resp.StatusCode != 400 || len(r.Items) != 1 || r.Items[0].Error.Code != decode.CodeTooLarge {
		t.Fatalf("alone: status %d %+v", resp.StatusCode, r)
	}
}
