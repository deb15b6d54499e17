// Package local holds the tests of deploy/local, the no-Docker stack every other test runs on.
// They run private stacks on other ports in temporary folders, never touching the main one.
package local

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func script(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func privateEnv(t *testing.T, components string) []string {
	dir := t.TempDir()
	return []string{"NEWSFLOW_LOCAL_DIR=" + dir, "NEWSFLOW_LOCAL_COMPONENTS=" + components,
		"NEWSFLOW_LOCAL_KAFKA_PORT=29092", "NEWSFLOW_LOCAL_KAFKA_CONTROLLER_PORT=29093",
		"NEWSFLOW_LOCAL_SEARCH_PORT=9270", "NEWSFLOW_LOCAL_SEARCH_TRANSPORT_PORT=9370", "NEWSFLOW_LOCAL_START_TIMEOUT=90"}
}

func pidOf(t *testing.T, env []string, name string) int {
	t.Helper()
	var dir string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "NEWSFLOW_LOCAL_DIR="); ok {
			dir = v
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids", name+".pid"))
	if err != nil {
		t.Fatalf("no PID file for %s: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestUpIsIdempotentAndDownStopsWhatItStarted: up, up again (nothing changes, the same process
// keeps running), down (the process is gone), down again (harmless).
func TestUpIsIdempotentAndDownStopsWhatItStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Kafka broker; skipped under -short")
	}
	env := privateEnv(t, "kafka")
	t.Cleanup(func() { _, _ = script(t, env, "down.sh") })
	out, err := script(t, env, "up.sh")
	if err != nil {
		t.Fatalf("first up: %v\n%s", err, out)
	}
	checkKafkaEnv(t, env, out)
	pid := pidOf(t, env, "kafka")
	start := time.Now()
	out, err = script(t, env, "up.sh")
	if err != nil || !strings.Contains(out, "kafka already running") {
		t.Fatalf("second up: %v\n%s", err, out)
	}
	if pidOf(t, env, "kafka") != pid || !alive(pid) {
		t.Fatal("second up replaced the running broker")
	}
	t.Logf("warm up took %v", time.Since(start))
	if out, err := script(t, env, "down.sh"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if alive(pid) {
		t.Fatalf("kafka (pid %d) still running after down", pid)
	}
	if out, err := script(t, env, "down.sh"); err != nil {
		t.Fatalf("second down: %v\n%s", err, out)
	}
}

// TestUpNamesTheComponentThatCannotStart: with the OpenSearch port taken, up fails with a
// message naming OpenSearch and its log file, well within the start timeout.
func TestUpNamesTheComponentThatCannotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs deploy/local/up.sh; skipped under -short")
	}
	env := privateEnv(t, "opensearch")
	ln, err := net.Listen("tcp", "127.0.0.1:9270")
	if err != nil {
		t.Skipf("port 9270 is busy here, cannot stage the conflict: %v", err)
	}
	defer ln.Close()
	t.Cleanup(func() { _, _ = script(t, env, "down.sh") })
	start := time.Now()
	out, err := script(t, env, "up.sh")
	if err == nil {
		t.Fatalf("up succeeded with the OpenSearch port taken:\n%s", out)
	}
	if !strings.Contains(out, "opensearch") || !strings.Contains(out, "opensearch.log") {
		t.Fatalf("the error does not name OpenSearch and its log:\n%s", out)
	}
	if d := time.Since(start); d > 90*time.Second {
		t.Fatalf("up took %v to fail, past its timeout", d)
	}
}

// checkKafkaEnv: up.sh wrote kafka.env (mode 0600) naming the SASL_SSL listener on KAFKA_PORT+2
// and the local CA, and printed the settings without the password.
func checkKafkaEnv(t *testing.T, env []string, upOutput string) {
	t.Helper()
	var dir string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "NEWSFLOW_LOCAL_DIR="); ok {
			dir = v
		}
	}
	f := filepath.Join(dir, "kafka.env")
	st, err := os.Stat(f)
	if err != nil {
		t.Fatalf("up.sh wrote no kafka.env: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("kafka.env has mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(f)
	pw, _ := os.ReadFile(filepath.Join(dir, "kafka", "sasl.password"))
	for _, want := range []string{"NEWSFLOW_KAFKA_BROKERS=127.0.0.1:29094\n", "NEWSFLOW_KAFKA_CA_FILE=" + filepath.Join(dir, "kafka", "tls", "ca.pem") + "\n",
		"NEWSFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n", "NEWSFLOW_KAFKA_SASL_PASSWORD=" + strings.TrimSpace(string(pw)) + "\n"} {
		if len(strings.TrimSpace(string(pw))) < 16 || !strings.Contains(string(b), want) {
			t.Fatalf("kafka.env lacks %q:\n%s", want, b)
		}
	}
	if !strings.Contains(upOutput, "127.0.0.1:29094") || strings.Contains(upOutput, strings.TrimSpace(string(pw))) {
		t.Fatalf("up.sh's summary should name the SASL_SSL listener and not show its password:\n%s", upOutput)
	}
}
