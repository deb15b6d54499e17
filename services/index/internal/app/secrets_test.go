package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/app"
)

// TestStartupLogHidesSearchSecrets starts the real `index serve` against the local Kafka and
// search node with the search credentials given both ways (user:password@ in --search-url and
// --search-password) at debug level in JSON, and greps its whole log for the passwords; then
// `index setup` against an unreachable URL with a password, whose retries and final error
// name the URL, must mask it too.
func TestStartupLogHidesSearchSecrets(t *testing.T) {
	k := testenv.Kafka(t)
	sc := testenv.Search(t)
	base := testenv.SearchConfig()
	if base.Username != "" || !strings.HasPrefix(base.URLs[0], "http://") {
		t.Skip("needs a search node without authentication (the local OpenSearch): the test puts its own credentials into the URL")
	}
	const (
		urlPassword  = "url-pw-4c7d19ae"
		flagPassword = "flag-pw-a83e62f1"
		deadPassword = "dead-pw-07b5c3d9"
	)
	withCreds := strings.Replace(base.URLs[0], "http://", "http://nfreader:"+urlPassword+"@", 1)
	topic, dlq, group, prefix := testenv.Name(t, "nfidx-sec-in"), testenv.Name(t, "nfidx-sec-dlq"), testenv.Name(t, "nfidx-sec-g"), testenv.Name(t, "nfidx-sec")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = sc.Do(ctx, http.MethodDelete, "/"+prefix+"-*", nil, nil)
		_ = sc.Do(ctx, http.MethodDelete, "/_index_template/"+prefix, nil, nil)
		_, _ = k.Client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic, dlq}})
	})
	admin := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var logs testenv.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"serve", "--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-partitions", "1",
			"--search-url", withCreds, "--search-username", "nfreader", "--search-password", flagPassword,
			"--topic", topic, "--dlq-topic", dlq, "--group", group, "--index-prefix", prefix,
			"--admin-addr", admin, "--log-format", "json", "--log-level", "debug"}, nil, io.Discard, &logs)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("index serve: %v\nlog:\n%s", err, logs.String())
			}
		case <-time.After(60 * time.Second):
			t.Errorf("index serve did not stop within 60s")
		}
	}
	t.Cleanup(stop)
	testenv.Eventually(t, 60*time.Second, "index serve ready", func() (bool, string) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("index serve stopped early: %v\nlog:\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	stop()
	out := logs.String()
	for _, secret := range []string{urlPassword, flagPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"search.urls":["` + strings.Replace(base.URLs[0], "http://", "http://nfreader:xxxxx@", 1) + `"]`, `"search.password":"***"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}

	// An unreachable URL with a password: retried, then given up on; neither says the password.
	dead := "http://nfreader:" + deadPassword + "@" + testenv.FreeAddr(t)
	var setupLog strings.Builder
	err := app.Run(context.Background(), []string{"setup", "--search-url", dead, "--index-prefix", prefix, "--log-format", "json", "--log-level", "debug"},
		nil, io.Discard, &setupLog)
	if err == nil {
		t.Fatal("setup against a closed port succeeded")
	}
	all := setupLog.String() + err.Error()
	if strings.Contains(all, deadPassword) || !strings.Contains(setupLog.String(), "nfreader:xxxxx@") {
		t.Errorf("setup's error or log shows the password, or never names the URL masked:\nerror: %v\nlog:\n%s", err, setupLog.String())
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("setup was cancelled, not refused: %v", err)
	}
}
