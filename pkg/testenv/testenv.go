// Package testenv gives integration tests the real components: the Kafka broker and search node
// that deploy/local starts (or whatever NEWSFLOW_KAFKA_BROKERS / NEWSFLOW_SEARCH_URL point at),
// unique topic and index names so tests never see each other's data, and the shared corpora.
//
// A missing broker or node fails the test with instructions; it is never skipped silently. Only
// `go test -short` skips integration tests, and says so.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/search"
)

const hint = "start the local stack with `make up` (or run `make test`, which does), or point NEWSFLOW_KAFKA_BROKERS / NEWSFLOW_SEARCH_URL at a running cluster"

// Kafka returns the Kafka settings for integration tests after checking that a broker answers.
func Kafka(t testing.TB) kafkax.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short: needs a Kafka broker")
	}
	c := kafkax.Config{Brokers: config.SplitList(env("NEWSFLOW_KAFKA_BROKERS", "127.0.0.1:9092")), Partitions: 3, ReplicationFactor: 1, WriteTimeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("no Kafka broker at %v: %v; %s", c.Brokers, err, hint)
	}
	return c
}

// SearchConfig returns the search settings for integration tests.
func SearchConfig() search.Config {
	return search.Config{URLs: config.SplitList(env("NEWSFLOW_SEARCH_URL", "http://127.0.0.1:9200")),
		Username: os.Getenv("NEWSFLOW_SEARCH_USERNAME"), Password: config.Secret(os.Getenv("NEWSFLOW_SEARCH_PASSWORD"))}
}

// Search returns a client of the search node after checking that it answers.
func Search(t testing.TB) *search.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short: needs a search node")
	}
	c, err := search.New(SearchConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("no search node at %v: %v; %s", SearchConfig().URLs, err, hint)
	}
	return c
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Name returns a name unique to this test and run, for topics, groups and indices:
// "<prefix>-<test name>-<random>", lower-case.
func Name(t testing.TB, prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(n) > 40 {
		n = n[:40]
	}
	return prefix + "-" + n + "-" + hex.EncodeToString(b)
}

// DataDir returns the shared corpora folder (NEWSFLOW_DATA_DIR, or ../shared/data beside the
// repository), skipping the test with a clear message when it is absent.
func DataDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("NEWSFLOW_DATA_DIR"); d != "" {
		return d
	}
	if d, ok := FindDataDir(); ok {
		return d
	}
	t.Skip("shared corpora not found: set NEWSFLOW_DATA_DIR or place shared/data beside the repository")
	return ""
}

// FindDataDir walks up from the working directory to the repository root (the folder with
// go.work) and returns ../shared/data beside it, if present.
func FindDataDir() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
