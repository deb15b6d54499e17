package testenv

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/search"
)

func TestParseEnv(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{name: "what up.sh writes", in: "# written by deploy/local/up.sh (engine: elasticsearch)\n" +
			"export NEWSFLOW_SEARCH_URL='https://127.0.0.1:9201'\nexport NEWSFLOW_SEARCH_PASSWORD='a b#c'\n",
			want: map[string]string{"NEWSFLOW_SEARCH_URL": "https://127.0.0.1:9201", "NEWSFLOW_SEARCH_PASSWORD": "a b#c"}},
		{name: "plain, double quotes, blanks, spaces", in: "\nA=1\n  B=\"two words\"  \n\nC=\n",
			want: map[string]string{"A": "1", "B": "two words", "C": ""}},
		{name: "equals sign in the value", in: "K='x=y'\nL=a=b\n", want: map[string]string{"K": "x=y", "L": "a=b"}},
		{name: "comment after an unquoted value", in: "K=v # note\n", want: map[string]string{"K": "v"}},
		{name: "a quote inside is kept", in: `K="it's"` + "\n", want: map[string]string{"K": "it's"}},
		{name: "later line wins", in: "K=1\nK=2\n", want: map[string]string{"K": "2"}},
		{name: "no equals sign", in: "A=1\njust words\n", err: "line 2: not KEY=VALUE"},
		{name: "bad key", in: "1A=x\n", err: "line 1: not KEY=VALUE"},
		{name: "spaces around = (not an assignment in a shell either)", in: "K = v\n", err: "line 1: not KEY=VALUE"},
		{name: "unterminated quote, value not echoed", in: "P='secret\n", err: "line 1: P: unterminated quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnv(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFindEnginesFromLocalDir(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "search-opensearch.env", "export NEWSFLOW_SEARCH_URL='http://127.0.0.1:9200'\n")
	write(t, dir, "search-elasticsearch.env", "export NEWSFLOW_SEARCH_URL='https://127.0.0.1:9201'\n"+
		"export NEWSFLOW_SEARCH_USERNAME='newsflow'\nexport NEWSFLOW_SEARCH_PASSWORD='pw'\nexport NEWSFLOW_SEARCH_CA_FILE='/x/ca.crt'\n")
	// search.env duplicates the primary engine's file; kafka.env and others are not engines.
	write(t, dir, "search.env", "export NEWSFLOW_SEARCH_URL='http://127.0.0.1:9200'\n")
	write(t, dir, "kafka.env", "NEWSFLOW_KAFKA_BROKERS=127.0.0.1:9094\n")
	got, err := findEngines(func(string) string { return "" }, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Engine{
		{Name: "elasticsearch", Config: search.Config{URLs: []string{"https://127.0.0.1:9201"}, Username: "newsflow", Password: "pw", CAFile: "/x/ca.crt"}},
		{Name: "opensearch", Config: search.Config{URLs: []string{"http://127.0.0.1:9200"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if m := missingEngines("opensearch elasticsearch", got); m != nil {
		t.Fatalf("missing %v with both present", m)
	}
}

func TestFindEnginesExternalClusterWins(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "search-opensearch.env", "NEWSFLOW_SEARCH_URL=http://127.0.0.1:9200\n")
	env := map[string]string{"NEWSFLOW_SEARCH_URL": "https://es.example:9200", "NEWSFLOW_SEARCH_USERNAME": "u",
		"NEWSFLOW_SEARCH_PASSWORD": "p", "NEWSFLOW_SEARCH_CA_FILE": "/ca.pem"}
	got, err := findEngines(func(k string) string { return env[k] }, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Engine{{Name: "external", Config: search.Config{URLs: []string{"https://es.example:9200"}, Username: "u", Password: "p", CAFile: "/ca.pem"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Under `make test` the external cluster must say which engine it is, or the run fails.
	if m := missingEngines("opensearch elasticsearch", got); !reflect.DeepEqual(m, []string{"opensearch", "elasticsearch"}) {
		t.Fatalf("missing = %v", m)
	}
	env["NEWSFLOW_TEST_SEARCH_NAME"] = "elasticsearch"
	got, _ = findEngines(func(k string) string { return env[k] }, dir)
	if m := missingEngines("elasticsearch", got); m != nil {
		t.Fatalf("missing = %v for a named external engine", m)
	}
}

func TestFindEnginesWithoutFilesFallsBackToOpenSearch(t *testing.T) {
	got, err := findEngines(func(string) string { return "" }, filepath.Join(t.TempDir(), "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "opensearch" || !reflect.DeepEqual(got[0].Config.URLs, SearchConfig().URLs) {
		t.Fatalf("got %+v, want the default OpenSearch", got)
	}
	if m := missingEngines("opensearch,elasticsearch", got); !reflect.DeepEqual(m, []string{"elasticsearch"}) {
		t.Fatalf("missing = %v, want [elasticsearch]", m)
	}
}

func TestEngineFromFileErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "search-x.env", "NEWSFLOW_SEARCH_USERNAME=u\n")
	if _, err := EngineFromFile("x", filepath.Join(dir, "search-x.env")); err == nil || !strings.Contains(err.Error(), "no NEWSFLOW_SEARCH_URL") {
		t.Fatalf("error = %v, want one naming the missing URL", err)
	}
	write(t, dir, "search-y.env", "garbage\n")
	if _, err := findEngines(func(string) string { return "" }, dir); err == nil || !strings.Contains(err.Error(), "search-x.env") {
		t.Fatalf("error = %v, want one naming the file", err)
	}
}

// TestSearchEnginesAnswer asks every engine SearchEngines finds (both under `make test`) for its
// cluster name through the search client, the way the index and e2e tests will reach them.
func TestSearchEnginesAnswer(t *testing.T) {
	for _, e := range SearchEngines(t) {
		c, err := search.New(e.Config)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var h struct {
			ClusterName string `json:"cluster_name"`
		}
		err = c.Do(ctx, "GET", "/_cluster/health", nil, &h)
		cancel()
		if err != nil || h.ClusterName == "" {
			t.Fatalf("%s at %v: cluster health: %+v, %v", e.Name, e.Config.URLs, h, err)
		}
		t.Logf("%s at %v: cluster %s", e.Name, e.Config.URLs, h.ClusterName)
	}
}
