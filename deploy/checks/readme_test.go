package checks

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// readmes are the pages whose shell commands people copy.
var readmes = []string{"README.md", "deploy/README.md"}

// sourcedVars says what the files the READMEs `source` set, and which script writes each: the
// check reads that script and fails when a variable listed here is no longer written there.
var sourcedVars = map[string]struct {
	writer string
	vars   []string
}{
	".local/search.env": {"deploy/local/elasticsearch.sh", []string{"NEWSFLOW_SEARCH_URL", "NEWSFLOW_SEARCH_USERNAME", "NEWSFLOW_SEARCH_PASSWORD", "NEWSFLOW_SEARCH_CA_FILE", "NEWSFLOW_INDEX_TEXT_ANALYZER"}},
	".local/kafka.env":  {"deploy/local/up.sh", []string{"NEWSFLOW_KAFKA_BROKERS", "NEWSFLOW_KAFKA_TLS", "NEWSFLOW_KAFKA_CA_FILE", "NEWSFLOW_KAFKA_SASL_MECHANISM", "NEWSFLOW_KAFKA_SASL_USERNAME", "NEWSFLOW_KAFKA_SASL_PASSWORD"}},
}

// readmeSnippets returns a page's shell code, parsed.
func readmeSnippets(t *testing.T, page string) ([]Snippet, [][]ShellCommand) {
	t.Helper()
	return parseSnippets(t, page, string(readFile(t, page)))
}

func parseSnippets(t *testing.T, page, text string) ([]Snippet, [][]ShellCommand) {
	t.Helper()
	snips, err := ShellSnippets(text)
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	var cmds [][]ShellCommand
	for _, s := range snips {
		c, err := ParseShell(s.Text, s.Line)
		if err != nil {
			t.Fatalf("%s: shell code at line %d: %v", page, s.Line, err)
		}
		cmds = append(cmds, c)
	}
	return snips, cmds
}

// TestReadmeVariablesSet: every $VAR or ${VAR} in the READMEs' commands is set earlier on the
// same page (VAR=…, export VAR=…, for VAR in …, or by a sourced file listed in sourcedVars).
// A variable nothing set expands to nothing, and the command runs on with an empty password or
// host instead of failing: `curl -u "elastic:$PASSWORD"` with PASSWORD never set sends the user
// elastic with an empty password. ${VAR:-default} and ${VAR:?message} are never silently empty
// and pass.
func TestReadmeVariablesSet(t *testing.T) {
	sourced := map[string][]string{}
	for file, s := range sourcedVars {
		script := string(readFile(t, s.writer))
		for _, v := range s.vars {
			if !strings.Contains(script, v+"=") {
				t.Errorf("sourcedVars says %s sets %s, but %s (which writes it) no longer does", file, v, s.writer)
			}
		}
		sourced[file] = s.vars
	}
	for _, page := range readmes {
		t.Run(page, func(t *testing.T) {
			_, cmds := readmeSnippets(t, page)
			checkVarsSet(t, page, cmds, sourced)
		})
	}
}

func checkVarsSet(t *testing.T, page string, cmds [][]ShellCommand, sourced map[string][]string) {
	t.Helper()
	assigned := map[string]bool{}
	for _, c := range cmds {
		unset, problems := ShellVars(c, assigned, sourced)
		for _, p := range problems {
			t.Errorf("%s: %s", page, p)
		}
		for _, u := range unset {
			t.Errorf("%s:%d uses $%s, which none of the page's commands before it sets: set it in the same block (%s=…) so the command runs as written", page, u.Line, u.Name, u.Name)
		}
	}
}

// TestReadmeImagesAreDeployed: the images deploy/README.md's commands build and push are exactly
// the images of the Deployments in the kustomizations it applies. The commands are followed with
// the page's own values (REGISTRY, TAG, the for loop over the services; a value from a command
// substitution such as $(git rev-parse …) becomes a stand-in tag), the files its here-documents
// write are laid over a copy of deploy/k8s, and each `kubectl apply -k` directory is built with
// krusty as kubectl would. A Deployment on an image nothing pushed (`newsflow/ingest:dev`, a
// registry.example.com placeholder) never starts: ErrImagePull.
func TestReadmeImagesAreDeployed(t *testing.T) {
	const page = "deploy/README.md"
	_, cmds := readmeSnippets(t, page)
	for _, p := range imageProblems(t, page, runAll(t, page, cmds)) {
		t.Error(p)
	}
}

// runAll follows a page's commands in order.
func runAll(t *testing.T, page string, cmds [][]ShellCommand) []RanCommand {
	t.Helper()
	run := NewShellRun()
	for _, c := range cmds {
		if err := run.Run(c); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
	}
	return run.Ran
}

// imageProblems compares what the commands ran push with the images of the Deployments of the
// kustomizations they apply.
func imageProblems(t *testing.T, page string, ran []RanCommand) (problems []string) {
	t.Helper()
	built, pushed := map[string]int{}, map[string]bool{}
	written := map[string]string{}
	var applied []string
	var appliedLine []int
	for _, c := range ran {
		a := c.Args
		switch {
		case len(a) >= 2 && a[0] == "docker" && (a[1] == "build" || (a[1] == "buildx" && len(a) > 2 && a[2] == "build")):
			for i, w := range a {
				switch {
				case (w == "-t" || w == "--tag") && i+1 < len(a):
					built[a[i+1]] = c.Line
					if slices.Contains(a, "--push") {
						pushed[a[i+1]] = true
					}
				case strings.HasPrefix(w, "--tag="):
					built[strings.TrimPrefix(w, "--tag=")] = c.Line
				}
			}
		case len(a) == 3 && a[0] == "docker" && a[1] == "push":
			pushed[a[2]] = true
		case len(a) >= 3 && a[0] == "kind" && a[1] == "load" && a[2] == "docker-image":
			for _, img := range a[3:] {
				pushed[img] = true
			}
		case len(a) >= 3 && a[0] == "kubectl" && a[1] == "apply":
			for i, w := range a {
				if w == "-k" && i+1 < len(a) {
					applied = append(applied, filepath.Clean(a[i+1]))
					appliedLine = append(appliedLine, c.Line)
				}
			}
		}
		if c.Out != "" && c.Heredoc != "" {
			written[filepath.Clean(c.Out)] = c.Heredoc
		}
	}
	for img, line := range built {
		if !pushed[img] {
			problems = append(problems, fmt.Sprintf("%s:%d builds %s but never pushes it (docker push, or kind load docker-image): the cluster cannot pull it", page, line, img))
		}
	}
	// A copy of deploy/k8s with the page's files laid over it: kustomize resolves an overlay's
	// resources relative to it, and the check must not write into the repository.
	tmp := t.TempDir()
	src := path(t, "deploy", "k8s")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(tmp, "deploy", "k8s", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, body := range written {
		if !strings.HasPrefix(f, "deploy/k8s/") {
			continue
		}
		if err := os.MkdirAll(filepath.Join(tmp, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deployed := map[string]string{} // image → where
	for i, dir := range applied {
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(tmp, dir))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: kubectl apply -k %s would fail: kustomize build: %v", page, appliedLine[i], dir, err))
			continue
		}
		for k, o := range objects(t, m) {
			if str(o, "kind") != "Deployment" {
				continue
			}
			for _, field := range []string{"initContainers", "containers"} {
				for j := 0; get(o, "spec", "template", "spec", field, j) != nil; j++ {
					deployed[str(o, "spec", "template", "spec", field, j, "image")] = k + " (kubectl apply -k " + dir + ")"
				}
			}
		}
	}
	if len(deployed) == 0 {
		return append(problems, fmt.Sprintf("%s applies no kustomization with Deployments (kubectl apply -k …): nothing to check the images against", page))
	}
	for _, img := range sortedKeys(deployed) {
		if !pushed[img] {
			problems = append(problems, fmt.Sprintf("%s runs image %s, which %s's commands never build and push (they push %v): the pods would stay in ErrImagePull", deployed[img], img, page, sortedKeys(pushed)))
		}
	}
	for _, img := range sortedKeys(pushed) {
		if _, ok := deployed[img]; !ok {
			problems = append(problems, fmt.Sprintf("%s's commands push %s, which no Deployment it applies runs (they run %v)", page, img, sortedKeys(deployed)))
		}
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
