package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestConsumerMemoryBounded (issue 13 item 5): with a backlog of 2,000 records of 900 KiB on
// the topic each consumes (1.8 GB, many times their memory), the real `index serve` and
// `enrich serve` binaries stay under their Kubernetes memory limits (deploy/k8s/base), measured
// as peak RSS (VmHWM). kafka-go's former prefetch (QueueCapacity 1000 × 900 KiB) let either hold
// up to 900 MB before the stage's own cap counted anything. Both run at once for about 15 s
// while they work through the backlog; the test checks that they did work.
func TestConsumerMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local stack")
	}
	kc := testenv.Kafka(t)
	eng := testenv.SearchEngines(t)[0]
	r := newRig(t, kc, eng)
	enrichOut := r.raw + ".out"
	// Writing 3.7 GB takes about a minute on a quiet machine; on a loaded one (a CI run beside
	// other work) it once took more than 3 minutes. The bound is on memory, not on time.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := kc.EnsureTopics(ctx, r.raw, r.enriched, r.dlq, enrichOut); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs before the rig's: stop the stages first, then delete their topics
		for _, p := range r.procs {
			_ = p.stop(syscall.SIGTERM, 30*time.Second)
		}
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kc.Client().DeleteTopics(dctx, &kafka.DeleteTopicsRequest{Topics: []string{r.raw, r.enriched, r.dlq, enrichOut}}); err != nil {
			t.Logf("deleting the topics: %v", err)
		}
	})

	const n, recordBytes = 2000, 900 << 10
	seed, err := os.ReadFile(filepath.Join(testenv.DataDir(t), "seed", "imperialism-hits-the-rocks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(seed), "\n") // the first line is the title
	body = strings.Repeat(body+"\n", recordBytes/len(body)+1)[:recordBytes-2048]
	published := time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC)
	rawValue := func(i int) []byte {
		v, _ := json.Marshal(article.Article{ID: fmt.Sprintf("mem-%04d", i), Source: "memtest", Title: fmt.Sprintf("Imperialism hits the rocks %d", i),
			Body: body, Language: "en", PublishedAt: published, IngestedAt: time.Now().UTC()})
		return v
	}
	enrichedValue := func(i int) []byte {
		v, _ := json.Marshal(article.Enriched{
			Article: article.Article{ID: fmt.Sprintf("mem-%04d", i), Source: "memtest", Title: fmt.Sprintf("Imperialism hits the rocks %d", i),
				Body: body, Language: "en", PublishedAt: published, IngestedAt: time.Now().UTC()},
			EnrichedAt: time.Now().UTC(), EnrichmentVersion: "memtest",
			Entities: []article.Entity{{Name: "Syria", Type: article.TypeLoc, Mentions: []article.Mention{{Field: article.FieldBody, Start: 0, End: 5}}}},
			Dates:    []article.DateMention{},
		})
		return v
	}

	// Fill both topics at once, in batches (a writer batch holds one such record).
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, job := range []struct {
		topic string
		value func(int) []byte
	}{{r.raw, rawValue}, {r.enriched, enrichedValue}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := kc.NewWriter(job.topic)
			defer w.Close()
			for b := 0; b < n; b += 100 {
				msgs := make([]kafka.Message, 0, 100)
				for i := b; i < b+100 && i < n; i++ {
					msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("mem-%04d", i)), Value: job.value(i)})
				}
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					errs <- fmt.Errorf("writing to %s: %w", job.topic, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	produceSecs := time.Since(start).Seconds()
	t.Logf("produced 2 × %d records of %d KiB (%.1f GB) in %.1f s", n, recordBytes>>10, 2*float64(n)*recordBytes/1e9, produceSecs)

	index := r.index("index")
	enrich, eargs := r.common("enrich")
	enrich.Args = append([]string{"serve"}, append(eargs, "--topic", r.raw, "--output-topic", enrichOut, "--dlq-topic", r.dlq, "--group", r.enrichGroup)...)
	startAll(index, enrich)
	limits := map[string]int64{"index": k8sMemoryLimit(t, "index"), "enrich": k8sMemoryLimit(t, "enrich")}

	// Let them work through the backlog for a while, watching the peaks.
	run := time.Now()
	deadline := run.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if produced(t, index.Admin, "index") >= n {
			break
		}
		for name, p := range map[string]*proc{"index": index, "enrich": enrich} {
			if hwm := vmHWM(t, p.Pid()); hwm > limits[name] {
				t.Fatalf("%s: peak RSS %.0f MiB, over its Kubernetes memory limit of %.0f MiB", name, float64(hwm)/(1<<20), float64(limits[name])/(1<<20))
			}
		}
		time.Sleep(200 * time.Millisecond) // sampling interval, not synchronisation: VmHWM is the kernel's own peak
	}
	secs := time.Since(run).Seconds()
	for name, p := range map[string]*proc{"index": index, "enrich": enrich} {
		hwm := vmHWM(t, p.Pid())
		done := produced(t, p.Admin, name)
		t.Logf("%s: %d of %d records of %d KiB done in %.1f s; peak RSS (VmHWM) %.0f MiB, Kubernetes limit %.0f MiB",
			name, done, n, recordBytes>>10, secs, float64(hwm)/(1<<20), float64(limits[name])/(1<<20))
		if hwm > limits[name] {
			t.Errorf("%s: peak RSS %.0f MiB, over its Kubernetes memory limit of %.0f MiB", name, float64(hwm)/(1<<20), float64(limits[name])/(1<<20))
		}
		if done == 0 {
			t.Errorf("%s processed nothing in %.0f s; the measure says nothing about a stage at work", name, secs)
		}
	}
}

// k8sMemoryLimit reads resources.limits.memory of service's container in deploy/k8s/base.
func k8sMemoryLimit(t *testing.T, service string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "k8s", "base", service+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`limits:\s*\{[^}]*memory:\s*([0-9]+)(Mi|Gi)\b`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("deploy/k8s/base/%s.yaml has no resources.limits.memory in Mi or Gi", service)
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if string(m[2]) == "Gi" {
		return v << 30
	}
	return v << 20
}

// vmHWM is the peak resident set size of pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// produced sums newsflow_<service>_produced_total on the service's /metrics.
func produced(t *testing.T, admin, service string) int {
	t.Helper()
	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	total := 0.0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "newsflow_"+service+"_produced_total{") {
			if f := strings.Fields(l); len(f) == 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				total += v
			}
		}
	}
	return int(total)
}
