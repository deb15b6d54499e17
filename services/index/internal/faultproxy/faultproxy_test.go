package faultproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/services/index/internal/faultproxy"
)

func TestProxyModes(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}},{"index":{"status":201}}]}`)
	}))
	defer upstream.Close()
	p, err := faultproxy.Start(upstream.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func() (int, string, error) {
		res, err := client.Post(p.URL()+"/_bulk", "application/x-ndjson", strings.NewReader("{}\n"))
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), nil
	}

	if status, body, err := post(); err != nil || status != 200 || strings.Contains(body, "429") {
		t.Fatalf("pass: %d %s %v", status, body, err)
	}
	if err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := post(); err == nil {
		t.Fatal("a cut proxy answered")
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	p.SetMode(faultproxy.Faulty, 3)
	var statuses []int
	var itemFaults int
	for i := 0; i < 3; i++ {
		status, body, err := post()
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, status)
		if status == 200 {
			itemFaults += strings.Count(body, `"status":429`)
		}
	}
	if statuses[0] != 200 || statuses[1] != 200 || (statuses[2] != 429 && statuses[2] != 503) {
		t.Fatalf("statuses %v, want the third request refused whole", statuses)
	}
	if itemFaults != 2 || p.Injected.Load() != 3 {
		t.Fatalf("%d item faults, %d injected; want 2 and 3", itemFaults, p.Injected.Load())
	}
}
