package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/app"
	"github.com/newsflow/newsflow/services/index/internal/faultproxy"
)

// TestRefusedCredentials: the real engine behind a proxy that answers every _bulk 401, then
// 403, for a while. The stage keeps retrying with the backoff, counts the refusals by reason,
// logs the credentials problem once per streak, and /readyz is false while it lasts and true
// again after; then every article is indexed (a trimmed one with its note too), none
// dead-lettered.
func TestRefusedCredentials(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		proxy := e.proxy(t)
		const n = 120
		arts := articles(n, "c")
		// One article enrich trimmed: the strict mapping takes its enrichment_note (a field it
		// did not know would be dead-lettered, and the counts below would say so).
		arts[7].EnrichmentNote = "trimmed to fit a Kafka record (1256039 bytes enriched): kept the first 1 mentions per entity (40 of 5151)"
		all := messages(t, arts)
		args := e.argsVia(proxy.URL(), "--batch-size", "40", "--retry-initial", "50ms", "--retry-max", "500ms", "--log-level", "info")
		admin := args[indexOf(args, "--admin-addr")+1]

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var logs testenv.SyncBuffer
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx, args, nil, io.Discard, &logs) }()
		defer func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("index serve: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Error("index serve did not stop within 60 s")
			}
		}()
		testenv.Eventually(t, 60*time.Second, "/readyz true at start", func() (bool, string) {
			code, body := readyz(admin)
			return code == 200, fmt.Sprintf("%d %s", code, body)
		})

		proxy.SetMode(faultproxy.Unauthorized, 1)
		e.produce(t, all[:60])
		testenv.Eventually(t, 30*time.Second, "/readyz false while _bulk gets 401", func() (bool, string) {
			code, body := readyz(admin)
			return code == 503 && strings.Contains(body, "search_credentials") && strings.Contains(body, "401"), fmt.Sprintf("%d %s", code, body)
		})
		// Several retries of the refused requests, each counted per document.
		testenv.Eventually(t, 30*time.Second, "401s retried and counted", func() (bool, string) {
			m := scrape(t, admin)
			return proxy.Injected.Load() >= 4 && credMetric(m, `newsflow_index_failed_total{reason="unauthorized"}`) >= 4*20,
				fmt.Sprintf("%d refused; %s", proxy.Injected.Load(), grepLines(m, "failed_total"))
		})
		proxy.SetMode(faultproxy.Forbidden, 1)
		testenv.Eventually(t, 30*time.Second, "403s retried and counted, still not ready", func() (bool, string) {
			m := scrape(t, admin)
			code, body := readyz(admin)
			return proxy.Injected.Load() >= 8 && credMetric(m, `newsflow_index_failed_total{reason="forbidden"}`) >= 20 && code == 503 && strings.Contains(body, "403"),
				fmt.Sprintf("%d refused; %s; readyz %d %s", proxy.Injected.Load(), grepLines(m, "failed_total"), code, body)
		})
		if c := e.count(t); c != 0 {
			t.Fatalf("%d documents indexed while every _bulk was refused", c)
		}
		refusals := strings.Count(logs.String(), "refuses the credentials")

		proxy.SetMode(faultproxy.Pass, 1)
		e.produce(t, all[60:])
		testenv.Eventually(t, 60*time.Second, "all documents indexed and committed after the credentials work again", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == n && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})
		code, body := readyz(admin)
		if code != 200 {
			t.Fatalf("/readyz %d after the streak: %s", code, body)
		}
		if d := e.dlqCount(t); d != 0 {
			t.Fatalf("%d dead letters, want 0", d)
		}
		// One streak (401 then 403 without an accepted request between): one log line, however
		// many retries; and its end logged.
		if refusals != 1 || !strings.Contains(logs.String(), "accepts the credentials again") {
			t.Fatalf("credentials problem logged %d times (want 1), end logged %v", refusals, strings.Contains(logs.String(), "accepts the credentials again"))
		}
		t.Logf("%s: %d refused _bulk requests injected; unauthorized %v, forbidden %v documents-attempts", eng.Name, proxy.Injected.Load(),
			credMetric(scrape(t, admin), `newsflow_index_failed_total{reason="unauthorized"}`), credMetric(scrape(t, admin), `newsflow_index_failed_total{reason="forbidden"}`))
	})
}

func readyz(admin string) (int, string) {
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// credMetric is the value of the exposition line that starts with series, or -1.
func credMetric(expo, series string) float64 {
	for _, l := range strings.Split(expo, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

func grepLines(expo, sub string) string {
	var out []string
	for _, l := range strings.Split(expo, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
