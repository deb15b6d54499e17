package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// runServe runs `ingest serve` in-process with args until the test ends and returns its log
// (JSON) and a stop function; it waits until /readyz answers 200 on admin.
func runServe(t *testing.T, admin string, args ...string) (*testenv.SyncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--admin-addr", admin, "--log-format", "json"}, args...), nil, io.Discard, logs)
	}()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = errors.New("serve did not stop within 30s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v\nlogs:\n%s", err, logs.String())
		}
	})
	testenv.Eventually(t, 30*time.Second, "/readyz", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v\nlogs:\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return logs, stop
}

// readyNotes reads the notes of /readyz.
func readyNotes(t *testing.T, admin string) []string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Ready bool     `json:"ready"`
		Notes []string `json:"notes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !body.Ready {
		t.Fatalf("/readyz: ready %v, %v", body.Ready, err)
	}
	return body.Notes
}

func postWithAuth(t *testing.T, url, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"title":"Secret test","body":"A body."}`))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStartupLogHidesSecrets starts the real `ingest serve` against the local Kafka with bearer
// tokens (flag, env and file), a feed whose URL carries user:password@ (served on loopback,
// refusing any other credentials, so the password demonstrably works), and a second such feed
// that cannot be reached (so the error path logs too), at debug level in JSON. Then it greps
// the whole log for every secret, and for the masked forms.
func TestStartupLogHidesSecrets(t *testing.T) {
	k := testenv.Kafka(t)
	const (
		flagToken1, flagToken2 = "tok-flag-7f3a91c2", "tok-flag-b40d55e8"
		envToken               = "tok-env-2c6e09aa"
		fileToken              = "tok-file-91d7e3f0"
		feedUser, feedPassword = "reader", "feed-pw-5e8c1b77"
		deadPassword           = "dead-pw-0a4f9d13"
		presented              = "tok-guess-6d2f8e41" // a wrong token a client sends
	)
	var authorized atomic.Int32
	feed := newFeedServer(t)
	guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != feedUser || p != feedPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="feeds"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		feed.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(guarded.Close)
	dead := testenv.FreeAddr(t) // nothing listens there

	tokenFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokenFile, []byte("# ingest tokens\n"+fileToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	guardedURL := strings.Replace(guarded.URL, "http://", "http://"+feedUser+":"+feedPassword+"@", 1) + "/rss"
	deadURL := "http://" + feedUser + ":" + deadPassword + "@" + dead + "/rss"
	t.Setenv("NEWSFLOW_KAFKA_BROKERS", strings.Join(k.Brokers, ","))
	t.Setenv("NEWSFLOW_INGEST_TOKEN", envToken) // the flag below wins over it
	t.Setenv("NEWSFLOW_INGEST_FEEDS", "guarded="+guardedURL+",dead="+deadURL)
	api, admin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	topic := testenv.Name(t, "ingest-secrets")
	logs, stop := runServe(t, admin, "--addr", api, "--topic", topic, "--kafka-partitions", "1", "--data-dir", t.TempDir(),
		"--token", flagToken1+","+flagToken2, "--token-file", tokenFile, "--feed-interval", "1s", "--log-level", "debug",
		"--feed-group", testenv.Name(t, "feeds")) // a group of its own: other tests must not rebalance it

	// Besides auth, only the feed lease's note ("feeds: polls 2 of 2 feeds …"), once it joined.
	if notes := readyNotes(t, admin); !slices.Contains(notes, "auth: bearer token (3 accepted)") ||
		slices.ContainsFunc(notes, func(n string) bool { return !strings.HasPrefix(n, "auth: ") && !strings.HasPrefix(n, "feeds: polls ") }) {
		t.Errorf("/readyz notes %q", notes)
	}
	for _, tt := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer " + presented, 401}, {"Bearer " + envToken, 401}, {"Bearer " + flagToken2, 202}, {"Bearer " + fileToken, 202}} {
		if got := postWithAuth(t, "http://"+api+"/v1/articles", tt.auth); got != tt.want {
			t.Errorf("POST with %q: %d, want %d", tt.auth, got, tt.want)
		}
	}
	arts := waitTopic(t, k, topic, 2+2) // two posted, two from the guarded feed
	if len(arts) != 4 || authorized.Load() == 0 {
		t.Errorf("%d records on the topic, %d authorized feed fetches; want 4 and some", len(arts), authorized.Load())
	}
	testenv.Eventually(t, 20*time.Second, "the unreachable feed's failure logged", func() (bool, string) {
		return strings.Contains(logs.String(), "feed poll failed"), "not yet"
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	for _, secret := range []string{flagToken1, flagToken2, envToken, fileToken, feedPassword, deadPassword, presented} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows the secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		`"tokens":["***","***"]`,
		`"token_file":"` + tokenFile + `"`, // the path is not secret, the tokens in it are
		`guarded=http://reader:xxxxx@` + strings.TrimPrefix(guarded.URL, "http://") + `/rss`,
		`dead=http://reader:xxxxx@` + dead + `/rss`,
		`"feed":"http://reader:xxxxx@` + dead + `/rss"`, // the failed poll names the feed, masked
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON log line: %s", line)
		}
	}
}

// TestAnonymousBeyondLoopbackServe: the real `serve` on 0.0.0.0 refuses to start without a
// token (exit status 2, saying how to fix it), and with --insecure-allow-anonymous it starts,
// warns, takes anonymous requests and says so on /readyz.
func TestAnonymousBeyondLoopbackServe(t *testing.T) {
	_, port, _ := net.SplitHostPort(testenv.FreeAddr(t))
	everywhere := "0.0.0.0:" + port
	var out strings.Builder
	err := Run(context.Background(), []string{"serve", "--addr", everywhere, "--log-format", "json"}, nil, io.Discard, &out)
	if service.ExitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "no token is configured") || !strings.Contains(fmt.Sprint(err), "--insecure-allow-anonymous") {
		t.Fatalf("0.0.0.0 without a token: err %v (exit %d), want a usage error naming the fix", err, service.ExitCode(err))
	}
	if testing.Short() {
		t.Skip("the rest needs Kafka")
	}
	k := testenv.Kafka(t)
	admin := testenv.FreeAddr(t)
	logs, _ := runServe(t, admin, "--addr", everywhere, "--insecure-allow-anonymous", "--kafka-brokers", strings.Join(k.Brokers, ","),
		"--topic", testenv.Name(t, "ingest-anon"), "--kafka-partitions", "1", "--data-dir", t.TempDir())
	if notes := readyNotes(t, admin); strings.Join(notes, "|") != "auth: anonymous (--insecure-allow-anonymous)" {
		t.Errorf("/readyz notes %q", notes)
	}
	if code := postWithAuth(t, "http://127.0.0.1:"+port+"/v1/articles", ""); code != 202 {
		t.Errorf("anonymous POST: %d, want 202", code)
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		warned = warned || (strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "--insecure-allow-anonymous"))
	}
	if !warned {
		t.Errorf("no start-up warning about anonymous access:\n%s", logs.String())
	}
}

// TestKafkaSASLPasswordMasked: the Kafka SASL password (a config.Secret inside kafkax.Config) is
// masked in the start-up attributes and when the whole configuration is logged as JSON, with no
// code that knows about it: the Secret type does it.
func TestKafkaSASLPasswordMasked(t *testing.T) {
	const pw = "sasl-pw-83b1c0de"
	t.Setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "ingest")
	t.Setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", pw)
	s, cfg := serveFlags()
	if err := s.Parse([]string{"--token", "tok-x1"}); err != nil {
		t.Fatal(err)
	}
	var saw bool
	s.FS.VisitAll(func(f *flag.Flag) { saw = saw || f.Name == "kafka-sasl-password" })
	if !saw {
		t.Skip("kafkax has no --kafka-sasl-password yet")
	}
	attrs := fmt.Sprint(config.Attrs(cfg)...)
	whole, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{attrs, string(whole), fmt.Sprintf("%+v", *cfg)} {
		if strings.Contains(s, pw) || strings.Contains(s, "tok-x1") || !strings.Contains(s, "***") {
			t.Errorf("SASL password or token not masked: %s", s)
		}
	}
}
