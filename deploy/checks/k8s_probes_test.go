package checks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestServicesAliveWhileDependenciesAreDown is the outcome behind the startup probes (issue 19
// item 7): on a fresh ECK/Strimzi install Kafka and Elasticsearch can take longer than a probe's
// budget to come up, and a service that only opens its admin port after its start-up waits is
// killed by its startup probe and crash-loops. Each binary is started the way the Deployment
// runs it (`serve`) with Kafka and the search engine unreachable: its /healthz must answer 200
// well inside the startup probe's budget (periodSeconds × failureThreshold, read from the built
// overlay) and keep answering, /readyz must say 503 and what it is waiting for, and SIGTERM must
// still stop it promptly.
func TestServicesAliveWhileDependenciesAreDown(t *testing.T) {
	sb := services(t)
	objs := objects(t, kustomize(t, "overlays/production"))
	dead, err := pipeline.FreeAddr() // nothing listens here: Kafka and the engine are "down"
	if err != nil {
		t.Fatal(err)
	}
	const watch = 6 * time.Second // how long each service is watched while it waits
	var wg sync.WaitGroup
	for _, svc := range Services {
		c := get(objs["Deployment/"+svc], "spec", "template", "spec", "containers", 0)
		period, _ := get(c, "startupProbe", "periodSeconds").(float64)
		threshold, _ := get(c, "startupProbe", "failureThreshold").(float64)
		delay, _ := get(c, "startupProbe", "initialDelaySeconds").(float64)
		budget := time.Duration(delay+period*threshold) * time.Second
		if budget <= 0 {
			t.Errorf("%s: no startup probe budget (periodSeconds × failureThreshold)", svc)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkAliveWhileWaiting(t, svc, sb.bins[svc], dead, budget, watch)
		}()
	}
	wg.Wait()
}

func checkAliveWhileWaiting(t *testing.T, svc, bin, dead string, budget, watch time.Duration) {
	admin, err := pipeline.FreeAddr()
	if err != nil {
		t.Error(err)
		return
	}
	api, err := pipeline.FreeAddr()
	if err != nil {
		t.Error(err)
		return
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"NEWSFLOW_ADMIN_ADDR=" + admin, "NEWSFLOW_KAFKA_BROKERS=" + dead,
		"NEWSFLOW_SEARCH_URL=http://" + dead, "NEWSFLOW_INGEST_ADDR=" + api,
		"NEWSFLOW_INGEST_DATA_DIR=" + t.TempDir(), "NEWSFLOW_LOG_FORMAT=text",
	}
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Errorf("%s: %v", svc, err)
		return
	}
	exited := make(chan struct{}) // closed when the process has exited, with its status in waitErr
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill() // no-op once it has exited
		<-exited
	}()
	fail := func(format string, args ...any) {
		t.Errorf("%s: %s\n--- its log:\n%s", svc, fmt.Sprintf(format, args...), logs.String())
	}

	start := time.Now()
	var firstHealthy time.Duration
	var readyBody string
	for time.Since(start) < watch {
		select {
		case <-exited:
			fail("exited after %v while Kafka and the search engine were down (%v): Kubernetes restarts it instead of letting it wait", time.Since(start).Round(time.Millisecond), waitErr)
			return
		case <-time.After(200 * time.Millisecond):
		}
		code, _ := probe("http://" + admin + "/healthz")
		if code == http.StatusOK && firstHealthy == 0 {
			firstHealthy = time.Since(start)
		}
		if firstHealthy != 0 && code != http.StatusOK {
			fail("/healthz answered %d after answering 200: the liveness probe would kill it while it waits", code)
			return
		}
		if firstHealthy != 0 {
			code, body := probe("http://" + admin + "/readyz")
			if code != http.StatusServiceUnavailable {
				fail("/readyz answered %d with Kafka and the search engine down, want 503", code)
				return
			}
			readyBody = body
		}
	}
	if firstHealthy == 0 {
		fail("/healthz did not answer within %v: its admin server starts only after the start-up waits, so its startup probe (budget %v) kills it when the dependencies take longer", watch, budget)
		return
	}
	if firstHealthy >= budget {
		fail("/healthz first answered after %v, beyond the startup probe's budget %v", firstHealthy, budget)
	}
	if !strings.Contains(readyBody, "waiting for") {
		fail("/readyz does not say what it is waiting for: %s", readyBody)
	}
	t.Logf("%s: /healthz 200 after %v (startup probe budget %v), alive for %v; /readyz: %s", svc,
		firstHealthy.Round(time.Millisecond), budget, watch, strings.TrimSpace(readyBody))

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			fail("SIGTERM while waiting for its dependencies: exit %v, want 0 (a stop, not a failure)", waitErr)
		}
	case <-time.After(10 * time.Second):
		fail("still running 10 s after SIGTERM while it was waiting for its dependencies")
	}
}

func probe(url string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
