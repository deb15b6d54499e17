package app_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestSIGTERMAndRestart runs the real binary, sends SIGTERM while a stream is being indexed,
// checks that it exits cleanly having committed nothing it had not indexed, restarts it, and
// checks that the index then holds every article exactly once.
func TestSIGTERMAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped under -short: builds the binary and needs Kafka and a search node")
	}
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		bin := filepath.Join(t.TempDir(), "index")
		build := exec.Command("go", "build", "-o", bin, "github.com/newsflow/newsflow/services/index/cmd/index")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		// A slow engine (every _bulk held 100 ms) keeps the stream going long enough to interrupt it.
		proxy := e.proxy(t)
		proxy.SetDelay(100 * time.Millisecond)

		const n = 1500
		e.produce(t, messages(t, articles(n, "s")))
		args := e.argsVia(proxy.URL(), "--batch-size", "25", "--workers", "1", "--flush-interval", "20ms", "--log-level", "info")

		run := func() (*exec.Cmd, *testenv.SyncBuffer) {
			var logs testenv.SyncBuffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return cmd, &logs
		}
		terminate := func(cmd *exec.Cmd, logs *testenv.SyncBuffer) {
			t.Helper()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("index exited with %v after SIGTERM\nlog:\n%s", err, logs.String())
				}
			case <-time.After(45 * time.Second):
				t.Fatalf("index did not exit within 45s of SIGTERM\nlog:\n%s", logs.String())
			}
		}

		cmd, logs := run()
		testenv.Eventually(t, 60*time.Second, "indexing under way", func() (bool, string) {
			c := e.count(t)
			return c >= 200, fmt.Sprintf("count %d", c)
		})
		terminate(cmd, logs)
		indexed, lag := e.count(t), e.lag(t)
		committed := int64(n) - lag
		t.Logf("after SIGTERM: %d indexed, %d committed, %d uncommitted", indexed, committed, lag)
		if committed > int64(indexed) {
			t.Fatalf("committed %d messages but only %d documents are indexed: offsets ran ahead of the engine", committed, indexed)
		}
		if indexed >= n {
			t.Logf("note: the stream finished before SIGTERM landed")
		}
		if !strings.Contains(logs.String(), "stopping") {
			t.Errorf("no shutdown log line:\n%s", logs.String())
		}

		cmd, logs = run()
		testenv.Eventually(t, 90*time.Second, "every article indexed after the restart", func() (bool, string) {
			c, l := e.count(t), e.lag(t)
			return c == n && l == 0, fmt.Sprintf("count %d, lag %d", c, l)
		})
		terminate(cmd, logs)
		if c := e.count(t); c != n {
			t.Fatalf("%d documents, want %d", c, n)
		}
		if d := e.dlqCount(t); d != 0 {
			t.Fatalf("%d dead letters, want 0", d)
		}
		_ = os.Remove(bin)
	})
}
