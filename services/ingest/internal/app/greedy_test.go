package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// TestSlowAndGreedyClients runs the real `ingest serve` binary (so that its memory can be read
// from /proc) against the local broker, with the default in-flight and byte caps, while
//   - 20 clients each announce an 8 MiB NDJSON body and trickle it (64 KiB every 50 ms),
//     starting again whenever ingest turns them away, and
//   - 50 clients each pipeline 5 requests whose answers are large (10,000 rejected items, about
//     1 MB: together more than the kernel's socket buffers take) with a 4 KiB receive buffer,
//     and never read a byte of them;
//
// meanwhile normal requests (one article) must get 202, ingest must cut every non-reading
// client off (the write timeout), and ingest's peak RSS (VmHWM) must stay under 200 MB.
// Without the caps, the tricklers alone buffer and decode 20 × 8 MiB at once.
func TestSlowAndGreedyClients(t *testing.T) {
	k := testenv.Kafka(t)
	topic := testenv.Name(t, "ingest-greedy")
	bin := filepath.Join(t.TempDir(), "ingest")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/newsflow/newsflow/services/ingest/cmd/ingest").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	api, adm := testenv.FreeAddr(t), testenv.FreeAddr(t)
	args := []string{"serve", "--topic", topic, "--addr", api, "--admin-addr", adm, "--log-format", "json", "--log-level", "error",
		"--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-partitions", "3", "--data-dir", t.TempDir(),
		// Short timeouts keep the test short; the caps are the defaults.
		"--write-timeout", "8s", "--read-timeout", "20s"}
	args = append(args, strings.Fields(os.Getenv("NEWSFLOW_TEST_GREEDY_EXTRA_FLAGS"))...) // e.g. huge caps, to see the test fail
	var logs testenv.SyncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("ingest did not stop within 20s of SIGTERM\nlogs:\n%s", logs.String())
		}
	})
	testenv.Eventually(t, 30*time.Second, "/readyz", func() (bool, string) {
		resp, err := http.Get("http://" + adm + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	baseline := procStatus(t, cmd.Process.Pid, "VmRSS")

	ctx, stop := context.WithCancel(context.Background())         // the non-readers
	tctx, stopTrickle := context.WithCancel(context.Background()) // the tricklers
	var wg, twg sync.WaitGroup
	defer func() { stop(); stopTrickle(); wg.Wait(); twg.Wait() }()
	var trickleTries atomic.Int64

	// A body of valid articles, so that a trickler that does get through is fully processed.
	var body8 []byte
	for i := 0; len(body8) < 8<<20; i++ {
		body8 = fmt.Appendf(body8, `{"title":"Trickled %d","body":"%s","url":"https://example.com/t/%d","language":"en","published_at":"2019-08-21T08:00:00Z"}`+"\n",
			i, strings.Repeat("Slowly sent text. ", 50), i)
	}
	body8 = body8[:8<<20-1]
	body8 = append(body8, '\n')
	var rejected bytes.Buffer
	for range 10000 {
		rejected.WriteString("{}\n")
	}
	greedyReq := fmt.Appendf(nil, "POST /v1/articles HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s", api, rejected.Len(), rejected.Bytes())
	for range 50 {
		wg.Go(func() { neverRead(ctx, api, greedyReq) })
	}
	for range 20 {
		twg.Go(func() {
			for tctx.Err() == nil {
				trickleTries.Add(1)
				trickle(tctx, api, body8)
			}
		})
	}

	// Wait until the byte budget is in use and has turned tricklers away.
	metric := func(name string) float64 {
		resp, err := http.Get("http://" + adm + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	attack := time.Now()
	testenv.Eventually(t, 15*time.Second, "the byte budget shedding tricklers", func() (bool, string) {
		shed := metric(`newsflow_ingest_http_shed_total{reason="buffer"}`)
		return shed >= 5, fmt.Sprintf("shed %v, buffered %v bytes", shed, metric("newsflow_ingest_http_buffered_bytes"))
	})

	// Meanwhile normal requests go through, one after another.
	one := `{"title":"A normal article","body":"Posted while others misbehave.","url":"https://example.com/normal/%d","language":"en"}`
	client := &http.Client{Timeout: 10 * time.Second}
	var slowest time.Duration
	for i := range 3 {
		start := time.Now()
		resp, err := client.Post("http://"+api+"/v1/articles", "application/json", strings.NewReader(fmt.Sprintf(one, i)))
		if err != nil {
			t.Fatalf("normal request %d during the attack: %v\nlogs:\n%s", i, err, logs.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("normal request %d during the attack: %d %s", i, resp.StatusCode, b)
		}
		slowest = max(slowest, time.Since(start))
	}
	inFlight, buffered := metric("newsflow_ingest_http_in_flight_requests"), metric("newsflow_ingest_http_buffered_bytes")
	if inFlight < 10 {
		t.Fatalf("only %v requests in flight after the normal ones: the attack was not under way", inFlight)
	}
	normalDone := time.Since(attack)
	// The tricklers go; the non-readers stay connected, reading nothing. What they hold (each
	// answer's request is charged about 5 MB) must come back when ingest gives up writing to
	// them: the write timeout.
	stopTrickle()
	twg.Wait()
	testenv.Eventually(t, 5*time.Second, "the tricklers' bytes released", func() (bool, string) {
		return metric("newsflow_ingest_http_in_flight_requests") == 0, ""
	})
	heldByNonReaders := metric("newsflow_ingest_http_buffered_bytes")
	if heldByNonReaders <= 0 {
		resp, _ := http.Get("http://" + adm + "/metrics")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var lines []string
		for l := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(l, "newsflow_ingest_http") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("the non-reading clients hold no bytes (%v): they are not blocking ingest's writes, the test tests nothing\n%s", heldByNonReaders, strings.Join(lines, "\n"))
	}
	testenv.Eventually(t, 15*time.Second, "ingest giving up on the clients that do not read", func() (bool, string) {
		b := metric("newsflow_ingest_http_buffered_bytes")
		return b == 0, fmt.Sprintf("%.1f MiB still held", b/(1<<20))
	})
	cutDone := time.Since(attack)
	stop()
	wg.Wait()
	peak := procStatus(t, cmd.Process.Pid, "VmHWM")
	t.Logf("attack of %v: %d trickled bodies started; normal requests done at %v (3 × 202, slowest %v) with %v requests in flight and %.1f MiB buffered; "+
		"%.1f MiB held by the non-reading clients, released by %v; shed: %v (buffer), %v (in flight); RSS baseline %.1f MB, peak (VmHWM) %.1f MB",
		time.Since(attack).Round(100*time.Millisecond), trickleTries.Load(), normalDone.Round(100*time.Millisecond), slowest.Round(time.Millisecond),
		inFlight, buffered/(1<<20), heldByNonReaders/(1<<20), cutDone.Round(100*time.Millisecond),
		metric(`newsflow_ingest_http_shed_total{reason="buffer"}`), metric(`newsflow_ingest_http_shed_total{reason="in_flight"}`),
		float64(baseline)/1e6, float64(peak)/1e6)
	if peak >= 200e6 {
		t.Fatalf("ingest's peak RSS %.1f MB, want < 200 MB", float64(peak)/1e6)
	}
}

// trickle sends one 8 MiB request 64 KiB every 50 ms and returns when ingest answers or
// closes the connection, or ctx ends.
func trickle(ctx context.Context, addr string, body []byte) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := fmt.Fprintf(c, "POST /v1/articles HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n", addr, len(body)); err != nil {
		return
	}
	answered := make(chan struct{})
	go func() { // an answer (429) before the body is complete ends this try
		defer close(answered)
		_, _ = bufio.NewReader(c).ReadByte()
	}()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for off := 0; off < len(body); off += 64 << 10 {
		select {
		case <-answered:
			return
		case <-t.C:
		}
		if _, err := c.Write(body[off:min(off+64<<10, len(body))]); err != nil {
			return
		}
	}
	select { // complete: wait for the answer
	case <-answered:
	case <-ctx.Done():
	}
}

// neverRead pipelines req 5 times on one connection with a tiny receive buffer, never reads,
// and keeps the connection open until ctx ends.
func neverRead(ctx context.Context, addr string, req []byte) {
	// The receive buffer is set before connecting, so that the window it advertises is small
	// from the first byte (a buffer shrunk later does not shrink an advertised window).
	d := net.Dialer{Timeout: time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for range 5 {
		if _, err := c.Write(req); err != nil {
			return
		}
	}
	<-ctx.Done()
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestRecordLimitAgainstBroker: an article whose record is just under publish.MaxRecordBytes
// is taken by the real broker (202, on the topic), and one just over it is a per-item 400 with
// the reason, not a whole-request 413; the articles beside it are accepted.
func TestRecordLimitAgainstBroker(t *testing.T) {
	k := testenv.Kafka(t)
	topic := testenv.Name(t, "ingest-record-limit")
	r := startServe(t, k, topic, "--max-body-bytes", strconv.Itoa(900<<10))
	// The record as ingest will write it: id, title, body, language, both dates.
	withQuotes := func(q int) string { return strings.Repeat(`"`, q) + strings.Repeat("a", 900<<10-q) }
	size := func(body string) int {
		a := article.Article{ID: strings.Repeat("0", 32), Title: "Near the limit", Body: body, Language: "en",
			PublishedAt: time.Date(2019, 8, 21, 8, 0, 0, 0, time.UTC), IngestedAt: time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)}
		r, err := publish.NewRecord(a)
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Value)
	}
	q := publish.MaxRecordBytes - size(withQuotes(0)) - 64 // each quote adds one byte (\")
	under, over := withQuotes(q), withQuotes(q+200)
	if size(under) > publish.MaxRecordBytes || size(over) <= publish.MaxRecordBytes {
		t.Fatalf("test bodies: %d and %d bytes, limit %d", size(under), size(over), publish.MaxRecordBytes)
	}
	line := func(title, body string) string {
		b, _ := json.Marshal(map[string]string{"title": title, "body": body, "language": "en", "published_at": "2019-08-21T08:00:00Z"})
		return string(b) + "\n"
	}
	body := line("Near the limit", under) + line("Over the limit", over) + line("Small", "A small article.")
	code, m := postBody(t, r.api+"/v1/articles", "application/x-ndjson", []byte(body))
	if code != 202 || m["accepted"] != 2.0 || m["rejected"] != 1.0 {
		t.Fatalf("status %d %v", code, m["error"])
	}
	it := m["items"].([]any)[1].(map[string]any)
	if it["status"] != "rejected" || !strings.Contains(fmt.Sprint(it["error"]), "Kafka record") {
		t.Fatalf("item over the limit: %v", it)
	}
	arts := waitTopic(t, k, topic, 2)
	var biggest int
	for _, a := range arts {
		if a.Title == "Near the limit" {
			biggest = size(a.Body)
		}
	}
	if len(arts) != 2 || biggest == 0 {
		t.Fatalf("%d records on the topic, near-limit one %d bytes", len(arts), biggest)
	}
	t.Logf("a record of about %d bytes (limit %d) was acknowledged by the broker; one of %d was refused per item", biggest, publish.MaxRecordBytes, size(over))
}
