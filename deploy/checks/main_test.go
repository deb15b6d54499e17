package checks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "newsflow-deploy-checks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = d
	code := m.Run()
	_ = os.RemoveAll(d)
	os.Exit(code)
}

// root returns the repository root or fails.
func root(t testing.TB) string {
	t.Helper()
	r, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// path joins p to the repository root.
func path(t testing.TB, p ...string) string {
	return filepath.Join(append([]string{root(t)}, p...)...)
}

// readFile reads a repository file or fails.
func readFile(t testing.TB, p ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(path(t, p...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serviceBinaries holds the services built once per test run, for every check that asks the
// services themselves what they offer.
type serviceBinaries struct {
	bins map[string]string
	// env is, per service and subcommand ("serve", "setup"), the NEWSFLOW_* variables its --help names.
	env      map[string]map[string]map[string]bool
	template []byte // `index setup --print`
}

var (
	binsOnce sync.Once
	bins     *serviceBinaries
	binsErr  error
)

// services builds the three commands (once) and asks them for their variables and the index
// template. When the services do not build, every test that needs them fails with the compiler's
// message: the deployment files cannot be checked against services that do not exist yet.
func services(t testing.TB) *serviceBinaries {
	t.Helper()
	binsOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		r, err := RepoRoot()
		if err != nil {
			binsErr = err
			return
		}
		b, err := BuildServices(ctx, r, binDir)
		if err != nil {
			binsErr = err
			return
		}
		sb := &serviceBinaries{bins: b, env: map[string]map[string]map[string]bool{}}
		commands := map[string][]string{"ingest": {"serve"}, "enrich": {"serve"}, "index": {"serve", "setup"}}
		for svc, cmds := range commands {
			sb.env[svc] = map[string]map[string]bool{}
			for _, c := range cmds {
				vars, err := HelpEnv(ctx, b[svc], c)
				if err != nil {
					binsErr = err
					return
				}
				sb.env[svc][c] = vars
			}
		}
		tmpl, err := runOutput(ctx, b["index"], "setup", "--print")
		if err != nil {
			binsErr = fmt.Errorf("index setup --print: %w", err)
			return
		}
		sb.template = tmpl
		bins = sb
	})
	if binsErr != nil {
		t.Fatalf("the services could not be built or asked for their configuration, so the deployment files cannot be checked against them: %v", binsErr)
	}
	return bins
}
