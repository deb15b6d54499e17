package local

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestElasticsearchIsSecuredAndDownStopsExactlyIt: a private stack with only Elasticsearch
// starts; its search-elasticsearch.env reaches it over HTTPS with the CA and the password, and
// nothing less does; down.sh stops the launcher and the server JVM under it and leaves the main
// stack's processes running.
func TestElasticsearchIsSecuredAndDownStopsExactlyIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Elasticsearch; skipped under -short")
	}
	// Elasticsearch takes 10 s to start on an idle 2-core machine and 45 s under `make test`'s load;
	// the later START_TIMEOUT overrides privateEnv's 90 s.
	// Free ports rather than fixed ones, so that two runs of this test on one machine do not meet.
	port := func() string { _, p, _ := net.SplitHostPort(testenv.FreeAddr(t)); return p }
	httpPort := port()
	env := append(privateEnv(t, "elasticsearch"), "NEWSFLOW_LOCAL_ES_PORT="+httpPort, "NEWSFLOW_LOCAL_ES_TRANSPORT_PORT="+port(),
		"NEWSFLOW_LOCAL_START_TIMEOUT=180")
	var dir string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "NEWSFLOW_LOCAL_DIR="); ok {
			dir = v
		}
	}
	t.Cleanup(func() { _, _ = script(t, env, "down.sh") })
	start := time.Now()
	if out, err := script(t, env, "up.sh"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	t.Logf("elasticsearch up in %v", time.Since(start).Round(100*time.Millisecond))

	envFile := filepath.Join(dir, "search-elasticsearch.env")
	if st, err := os.Stat(envFile); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v; want 0600 (it holds the password)", envFile, st.Mode().Perm())
	}
	e, err := testenv.EngineFromFile("elasticsearch", envFile)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Config
	if len(c.URLs) != 1 || c.URLs[0] != "https://127.0.0.1:"+httpPort || c.Username == "" || c.Password == "" || c.CAFile == "" {
		t.Fatalf("settings in %s: %+v", envFile, c)
	}
	if primary, err := testenv.EngineFromFile("elasticsearch", filepath.Join(dir, "search.env")); err != nil || primary.Config.URLs[0] != c.URLs[0] {
		t.Fatalf("search.env does not name the only engine of this stack: %+v, %v", primary.Config, err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", c.CAFile)
	}
	health := func(roots *x509.CertPool, user, pass string) (int, string, http.Header, error) {
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		req, _ := http.NewRequest("GET", c.URLs[0]+"/_cluster/health", nil)
		req.SetBasicAuth(user, pass)
		res, err := cl.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header, nil
	}
	status, body, hdr, err := health(pool, c.Username, string(c.Password))
	if err != nil || status != 200 || !strings.Contains(body, `"cluster_name":"newsflow-local-es"`) {
		t.Fatalf("with the CA and the password: %d %s, %v", status, body, err)
	}
	if got := hdr.Get("X-Elastic-Product"); got != "Elasticsearch" {
		t.Fatalf("X-Elastic-Product = %q: not Elasticsearch answering", got)
	}
	if status, body, _, err := health(pool, c.Username, string(c.Password)+"x"); err != nil || status != 401 {
		t.Fatalf("a wrong password got %d %s, %v; want 401", status, body, err)
	}
	var unknownCA x509.UnknownAuthorityError
	if _, _, _, err := health(nil, c.Username, string(c.Password)); !errors.As(err, &unknownCA) {
		t.Fatalf("without the CA: %v; want an unknown-authority error", err)
	}

	launcher := pidOf(t, env, "elasticsearch")
	servers := childrenOf(launcher)
	if len(servers) == 0 {
		t.Fatalf("the launcher (pid %d) runs no server JVM", launcher)
	}
	mainStack := mainStackPIDs(t)
	if out, err := script(t, env, "down.sh"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, pid := range append([]int{launcher}, servers...) {
		testenv.Eventually(t, 10*time.Second, "elasticsearch pid "+strconv.Itoa(pid)+" to exit", func() (bool, string) {
			return !running(pid), "still running"
		})
	}
	for name, pid := range mainStack {
		if !running(pid) {
			t.Errorf("the main stack's %s (pid %d) stopped with the private stack", name, pid)
		}
	}
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after down (err %v): tests would find an engine that is gone", envFile, err)
	}
}

// running: pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// mainStackPIDs: the running processes named by the main stack's PID files.
func mainStackPIDs(t *testing.T) map[string]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.LocalDir(), "pids", "*.pid"))
	pids := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(strings.Fields(string(b))) == 0 {
			continue
		}
		if pid, err := strconv.Atoi(strings.Fields(string(b))[0]); err == nil && running(pid) {
			pids[filepath.Base(f)] = pid
		}
	}
	return pids
}
