package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/search"
)

// Engine is one search engine the integration tests run against.
type Engine struct {
	// Name is "opensearch" or "elasticsearch" for deploy/local's engines, and
	// NEWSFLOW_TEST_SEARCH_NAME (default "external") for the cluster NEWSFLOW_SEARCH_URL names.
	Name   string
	Config search.Config
}

const enginesHint = "run `make test` (it starts both engines), or `NEWSFLOW_LOCAL_SEARCH=both make up`; " +
	"or point NEWSFLOW_SEARCH_URL (and _USERNAME, _PASSWORD, _CA_FILE) at one cluster and set NEWSFLOW_TEST_ENGINES to its NEWSFLOW_TEST_SEARCH_NAME"

// SearchEngines returns every search engine a test should run against, after checking that each
// answers, so that one test covers OpenSearch and Elasticsearch alike:
//   - NEWSFLOW_SEARCH_URL set: that one cluster (with NEWSFLOW_SEARCH_USERNAME, _PASSWORD and
//     _CA_FILE), named by NEWSFLOW_TEST_SEARCH_NAME or "external";
//   - otherwise each engine deploy/local runs: a search-<engine>.env file in NEWSFLOW_LOCAL_DIR
//     (default <repo>/.local), which up.sh writes and down.sh deletes; with no such file, the
//     OpenSearch that SearchConfig names (a stack started before up.sh wrote them).
//
// NEWSFLOW_TEST_ENGINES ("opensearch elasticsearch" under `make test`) lists the engines that must
// be there: a missing one fails the test with instructions rather than shrinking what it covers.
func SearchEngines(t testing.TB) []Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short: needs the search engines")
	}
	engines, err := findEngines(os.Getenv, LocalDir())
	if err != nil {
		t.Fatalf("reading the search engines' settings: %v; %s", err, enginesHint)
	}
	if missing := missingEngines(os.Getenv("NEWSFLOW_TEST_ENGINES"), engines); len(missing) > 0 {
		t.Fatalf("NEWSFLOW_TEST_ENGINES=%q, but no %s: found only [%s]; %s",
			os.Getenv("NEWSFLOW_TEST_ENGINES"), strings.Join(missing, ", "), strings.Join(names(engines), ", "), enginesHint)
	}
	for _, e := range engines {
		info, err := engineAnswers(e.Config)
		if err != nil {
			t.Fatalf("search engine %s at %v does not answer: %v; %s", e.Name, e.Config.URLs, err, enginesHint)
		}
		report(e, info)
	}
	return engines
}

// LocalDir is the folder of deploy/local's state: NEWSFLOW_LOCAL_DIR (relative to the repository
// root, as `make` runs up.sh from there), or <repo>/.local.
func LocalDir() string {
	d := os.Getenv("NEWSFLOW_LOCAL_DIR")
	if d != "" && filepath.IsAbs(d) {
		return d
	}
	root, ok := repoRoot()
	if !ok {
		return d
	}
	if d == "" {
		return filepath.Join(root, ".local")
	}
	return filepath.Join(root, d)
}

// EngineFromFile reads one search-<engine>.env file that deploy/local/up.sh wrote.
func EngineFromFile(name, path string) (Engine, error) {
	f, err := os.Open(path)
	if err != nil {
		return Engine{}, err
	}
	defer f.Close()
	vars, err := parseEnv(f)
	if err != nil {
		return Engine{}, fmt.Errorf("%s: %w", path, err)
	}
	if vars["NEWSFLOW_SEARCH_URL"] == "" {
		return Engine{}, fmt.Errorf("%s: no NEWSFLOW_SEARCH_URL", path)
	}
	return Engine{Name: name, Config: configFrom(func(k string) string { return vars[k] })}, nil
}

func configFrom(get func(string) string) search.Config {
	return search.Config{URLs: config.SplitList(get("NEWSFLOW_SEARCH_URL")), Username: get("NEWSFLOW_SEARCH_USERNAME"),
		Password: config.Secret(get("NEWSFLOW_SEARCH_PASSWORD")), CAFile: get("NEWSFLOW_SEARCH_CA_FILE")}
}

var engineFile = regexp.MustCompile(`^search-([a-z0-9][a-z0-9-]*)\.env$`)

// findEngines is SearchEngines' choice of engines, without the checks.
func findEngines(getenv func(string) string, localDir string) ([]Engine, error) {
	if getenv("NEWSFLOW_SEARCH_URL") != "" {
		name := getenv("NEWSFLOW_TEST_SEARCH_NAME")
		if name == "" {
			name = "external"
		}
		return []Engine{{Name: name, Config: configFrom(getenv)}}, nil
	}
	entries, err := os.ReadDir(localDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var engines []Engine
	for _, de := range entries {
		m := engineFile.FindStringSubmatch(de.Name())
		if m == nil || de.IsDir() {
			continue
		}
		e, err := EngineFromFile(m[1], filepath.Join(localDir, de.Name()))
		if err != nil {
			return nil, err
		}
		engines = append(engines, e)
	}
	if len(engines) == 0 {
		return []Engine{{Name: "opensearch", Config: SearchConfig()}}, nil
	}
	sort.Slice(engines, func(i, j int) bool { return engines[i].Name < engines[j].Name })
	return engines, nil
}

// missingEngines returns the names in want (space or comma separated) that no engine has.
func missingEngines(want string, have []Engine) []string {
	var missing []string
	for _, w := range strings.FieldsFunc(want, func(r rune) bool { return r == ' ' || r == ',' }) {
		found := false
		for _, e := range have {
			found = found || e.Name == w
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing
}

func names(es []Engine) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.Name)
	}
	return n
}

// engineAnswers asks the engine for its cluster health through the client the tests use (TLS,
// CA file and basic auth included), then what it is (search.Client.Check, which knows that the
// Elasticsearch build deploy/local runs answers GET / with 405).
func engineAnswers(c search.Config) (search.Engine, error) {
	cl, err := search.New(c)
	if err != nil {
		return search.Engine{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var health struct {
		Status string `json:"status"`
	}
	if err := cl.Do(ctx, "GET", "/_cluster/health", nil, &health); err != nil {
		return search.Engine{}, err
	}
	if health.Status != "green" && health.Status != "yellow" {
		return search.Engine{}, fmt.Errorf("cluster health is %q", health.Status)
	}
	return cl.Check(ctx)
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnv reads the KEY=VALUE lines of a file a shell can source: blank lines and # comments
// are skipped, a leading `export ` is dropped, and one pair of matching quotes around the value
// is removed (no escapes or expansions: up.sh writes none).
func parseEnv(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || !envKey.MatchString(k) {
			return nil, fmt.Errorf("line %d: not KEY=VALUE", n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') {
			if v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("line %d: %s: unterminated quote", n, k)
			}
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

// repoRoot walks up from the working directory to the folder with go.work.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
