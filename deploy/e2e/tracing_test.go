package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// jaeger is a Jaeger v2 process (OTLP in, in-memory store, query API out) on ports of its own.
type jaeger struct {
	*pipeline.Proc
	otlpHTTP, otlpGRPC, query string
}

// startJaeger starts the Jaeger binary that `make test-tracing` builds from deploy/tools/jaeger
// (its own module: its dependency graph never touches the services') and waits until it is
// healthy. NEWSFLOW_JAEGER_BIN names another binary.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := os.Getenv("NEWSFLOW_JAEGER_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "jaeger")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Jaeger binary at %s (%v): `make test-tracing` builds it, or set NEWSFLOW_JAEGER_BIN", bin, err)
	}
	config, err := filepath.Abs(filepath.Join("..", "tools", "jaeger", "config-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	health := testenv.FreeAddr(t)
	j := &jaeger{otlpHTTP: testenv.FreeAddr(t), otlpGRPC: testenv.FreeAddr(t), query: testenv.FreeAddr(t)}
	j.Proc = &pipeline.Proc{Name: "jaeger", Bin: bin, Args: []string{"--config", config},
		Log: filepath.Join(t.TempDir(), "jaeger.log"),
		Env: []string{"JAEGER_HEALTH_ADDR=" + health, "JAEGER_QUERY_ADDR=" + j.query, "JAEGER_QUERY_GRPC_ADDR=" + testenv.FreeAddr(t),
			"JAEGER_OTLP_HTTP_ADDR=" + j.otlpHTTP, "JAEGER_OTLP_GRPC_ADDR=" + j.otlpGRPC}}
	if err := j.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = j.Stop(syscall.SIGTERM, 10*time.Second)
		if t.Failed() {
			t.Logf("log of jaeger:\n%s", pipeline.Tail(j.Log, 25))
		}
	})
	testenv.Eventually(t, 60*time.Second, "jaeger healthy", func() (bool, string) {
		if j.Exited() {
			t.Fatalf("jaeger exited:\n%s", pipeline.Tail(j.Log, 25))
		}
		resp, err := http.Get("http://" + health + "/status")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return j
}

// jaegerTrace is the part of Jaeger's /api/traces/<id> answer the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// get reads one trace (id) or a search (query) from Jaeger's query API.
func (j *jaeger) get(ctx context.Context, path string) ([]jaegerTrace, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+j.query+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: %.300s", err, b)
	}
	return out.Data, nil
}

// spansByService names, for each service, the operations of tr's spans.
func (tr jaegerTrace) spansByService() map[string][]string {
	out := map[string][]string{}
	for _, s := range tr.Spans {
		svc := tr.Processes[s.ProcessID].ServiceName
		out[svc] = append(out[svc], s.OperationName)
	}
	for _, ops := range out {
		slices.Sort(ops)
	}
	return out
}

// TestTraceAcrossStages posts one article with a traceparent to the three services run as
// processes against the local stack, each exporting OTLP to a real Jaeger (ingest and index
// over HTTP, enrich over gRPC), and finds through Jaeger's query API one trace, the client's,
// with spans from all three services; the bulk request's own trace links to it, and the index's
// end-to-end latency histogram carries the trace id as an exemplar.
//
// Not part of `make test`: building Jaeger from the module proxy takes about ten minutes on a
// cold cache. `make test-tracing` builds it and runs this (NEWSFLOW_TEST_TRACING=1).
func TestTraceAcrossStages(t *testing.T) {
	if os.Getenv("NEWSFLOW_TEST_TRACING") == "" {
		t.Skip("tracing test skipped: it needs a Jaeger binary; run it with `make test-tracing` (NEWSFLOW_TEST_TRACING=1)")
	}
	kc := testenv.Kafka(t)
	eng := testenv.SearchEngines(t)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	j := startJaeger(t)

	r := newRig(t, kc, eng)
	// A short batch delay, so spans reach Jaeger within the test's patience, not 5 s later.
	otel := func(p *proc, protocol, endpoint string) {
		p.Env = append(p.Env, "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL="+protocol,
			"OTEL_BSP_SCHEDULE_DELAY=200")
	}
	ing, ingestURL := r.ingest()
	enr, idx := r.enrich("enrich"), r.index("index")
	otel(ing, "http/protobuf", "http://"+j.otlpHTTP)
	otel(enr, "grpc", "http://"+j.otlpGRPC)
	otel(idx, "http/protobuf", "http://"+j.otlpHTTP)
	startAll(ing, enr, idx)

	const traceID = "5a1c7e0f2b9d4e6a8c3f1d2e4b6a8c0d"
	body := `{"title":"Officials meet in Paris","body":"Officials from France and Japan met in Paris on Monday.","url":"https://example.com/traced","published_at":"2019-08-21T08:00:00Z"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ingestURL+"/v1/articles", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST: %s", resp.Status)
	}

	want := map[string][]string{
		"ingest": {"POST /v1/articles", "ingest publish"},
		"enrich": {"enrich process"},
		"index":  {"index document"},
	}
	var tr jaegerTrace
	testenv.Eventually(t, 90*time.Second, "one trace with the spans of all three services in Jaeger", func() (bool, string) {
		got, err := j.get(ctx, "/api/traces/"+traceID)
		if err != nil || len(got) != 1 {
			return false, fmt.Sprintf("%d traces, %v", len(got), err)
		}
		tr = got[0]
		by := tr.spansByService()
		for svc, ops := range want {
			if !slices.Equal(by[svc], ops) {
				return false, fmt.Sprint(by)
			}
		}
		return true, ""
	})
	t.Logf("trace %s in Jaeger: %v", tr.TraceID, tr.spansByService())

	// The bulk request is a trace of its own that links to the article's (FOLLOWS_FROM in
	// Jaeger's model), and the article's index document span links back to it.
	var bulkSpan string
	for _, s := range tr.Spans {
		if s.OperationName != "index document" {
			continue
		}
		for _, ref := range s.References {
			if ref.TraceID != tr.TraceID {
				bulkSpan = ref.TraceID + "/" + ref.SpanID
			}
		}
	}
	if bulkSpan == "" {
		t.Fatal("the index document span has no link to the bulk request's span")
	}
	bulkTrace := strings.SplitN(bulkSpan, "/", 2)[0]
	testenv.Eventually(t, 30*time.Second, "the index bulk span, linked to the article's trace", func() (bool, string) {
		got, err := j.get(ctx, "/api/traces/"+bulkTrace)
		if err != nil || len(got) != 1 {
			return false, fmt.Sprintf("%d traces, %v", len(got), err)
		}
		for _, s := range got[0].Spans {
			if s.OperationName != "index bulk" || got[0].Processes[s.ProcessID].ServiceName != "index" {
				continue
			}
			for _, ref := range s.References {
				if ref.TraceID == tr.TraceID {
					return true, ""
				}
			}
			return false, fmt.Sprintf("bulk span references %v", s.References)
		}
		return false, "no index bulk span"
	})

	// The exemplar of the end-to-end latency (OpenMetrics only) names the article's trace.
	testenv.Eventually(t, 10*time.Second, "an exemplar with the trace id on /metrics", func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+idx.Admin+"/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "newsflow_index_end_to_end_latency_seconds_bucket") && strings.Contains(line, `# {trace_id="`+traceID+`"}`) {
				return true, ""
			}
		}
		return false, "no exemplar line; content type " + resp.Header.Get("Content-Type")
	})
}
