package checks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Services are the newsflow commands, each built from ./services/<name>/cmd/<name>.
var Services = []string{"ingest", "enrich", "index"}

// BuildServices builds the three commands into dir the way deploy/docker/Dockerfile does
// (static: CGO off, -trimpath), from the workspace at root. It returns the binaries by name, or
// an error carrying the compiler's output.
func BuildServices(ctx context.Context, root, dir string) (map[string]string, error) {
	args := []string{"build", "-trimpath", "-o", dir + string(os.PathSeparator)}
	for _, s := range Services {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %v: %w\n%s", args, err, out.String())
	}
	bins := map[string]string{}
	for _, s := range Services {
		bins[s] = filepath.Join(dir, s)
	}
	return bins, nil
}

var envRE = regexp.MustCompile(`\benv (NEWSFLOW_[A-Z0-9_]+)`)

// HelpEnv runs `bin args... --help` and returns the NEWSFLOW_* variables its help names (every
// flag of the services shows its variable as "(env NEWSFLOW_…)").
func HelpEnv(ctx context.Context, bin string, args ...string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--help")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %v --help: %w", bin, args, ctx.Err())
	}
	vars := map[string]bool{}
	for _, m := range envRE.FindAllStringSubmatch(string(out), -1) {
		vars[m[1]] = true
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("%s %v --help names no NEWSFLOW_* variable (exit: %v):\n%s", bin, args, err, out)
	}
	return vars, nil
}

// Sorted returns the keys of a set, sorted.
func Sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
