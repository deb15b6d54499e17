package checks

import (
	"slices"
	"strings"
	"testing"
)

func parseAll(t *testing.T, page string) [][]ShellCommand {
	t.Helper()
	_, cmds := parseSnippets(t, "fixture", page)
	return cmds
}

func unsetNames(t *testing.T, page string) []string {
	t.Helper()
	assigned := map[string]bool{}
	var names []string
	for _, c := range parseAll(t, page) {
		unset, problems := ShellVars(c, assigned, map[string][]string{".local/x.env": {"FROM_FILE"}})
		if len(problems) > 0 {
			t.Errorf("problems: %v", problems)
		}
		for _, u := range unset {
			names = append(names, u.Name)
		}
	}
	return names
}

func TestShellVars(t *testing.T) {
	tests := []struct {
		name, page string
		unset      []string
	}{
		{"the old Kibana import: inline, PASSWORD never set",
			"```sh\ncurl -s localhost:8080\n```\n- `curl -k -u \"elastic:$PASSWORD\" -X POST https://localhost:5601`\n", []string{"PASSWORD"}},
		{"set in an earlier block",
			"```sh\nPASSWORD=$(kubectl get secret x -o jsonpath='{.data.elastic}' | base64 -d)\n```\n\n```sh\ncurl -u \"elastic:$PASSWORD\" x\n```\n", nil},
		{"used before it is set",
			"```sh\necho \"$A\"\nA=1\n```\n", []string{"A"}},
		{"single quotes, escapes, guarded forms, special parameters",
			"```sh\necho '$A' \\$B \"\\$C\" ${D:-x} ${E:?set E} $1 $? $$\n```\n", nil},
		{"a default's own variable",
			"```sh\necho ${D:-$F}\n```\n", []string{"F"}},
		{"command substitution and arithmetic",
			"```sh\nX=$(echo $G) && echo $((1+2))\n```\n", []string{"G"}},
		{"for loop, export, source",
			"```sh\nexport H=1 I=2\nfor s in a b; do echo $s $H $I; done\nsource .local/x.env && echo $FROM_FILE\n```\n", nil},
		{"unquoted here-document expands, quoted does not",
			"```sh\ncat > f <<EOF\nname: $J\nEOF\ncat > g <<'EOF'\nname: $K\nEOF\n```\n", []string{"J"}},
		{"comments and prose spans are not code",
			"```sh\necho hi   # uses $L in a comment\n```\nbuilt with `golang:$GO_VERSION` (`$M` is prose)\n", nil},
		{"a continuation line",
			"```sh\ncurl -u \"u:$N\" \\\n  -X POST x\n```\n", []string{"N"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unsetNames(t, tt.page); !slices.Equal(got, tt.unset) {
				t.Errorf("unset variables %v, want %v", got, tt.unset)
			}
		})
	}
	if _, err := ParseShell("cat <<EOF\nno end\n", 1); err == nil {
		t.Error("an unclosed here-document parsed")
	}
	if _, err := ParseShell("echo 'open\n", 1); err == nil {
		t.Error("an unterminated quote parsed")
	}
}

func TestShellRun(t *testing.T) {
	page := "```sh\nR=reg.example/nf   # the registry\nTAG=$(git rev-parse --short HEAD)\n" +
		"for svc in a b; do\n  docker build --build-arg SERVICE=$svc -t \"$R/$svc:$TAG\" .\n  docker push \"$R/$svc:$TAG\"\ndone\n" +
		"cat > out.yaml <<EOF\nimage: $R/a:\"$TAG\"\nEOF\n```\n"
	r := NewShellRun()
	for _, c := range parseAll(t, page) {
		if err := r.Run(c); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, c := range r.Ran {
		got = append(got, strings.Join(c.Args, " "))
	}
	want := []string{
		"docker build --build-arg SERVICE=a -t reg.example/nf/a:readme-tag .", "docker push reg.example/nf/a:readme-tag",
		"docker build --build-arg SERVICE=b -t reg.example/nf/b:readme-tag .", "docker push reg.example/nf/b:readme-tag",
		"cat",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last := r.Ran[len(r.Ran)-1]; last.Out != "out.yaml" || last.Heredoc != "image: reg.example/nf/a:\"readme-tag\"\n" {
		t.Errorf("here-document: %q to %q", last.Heredoc, last.Out)
	}
}

// TestImageProblems: the image check on pages of its own: the right images pushed and applied
// pass; pushing to one registry while applying the production overlay as it is (images named
// newsflow/<service>:dev), or building without pushing, fails.
func TestImageProblems(t *testing.T) {
	build := "```sh\nREGISTRY=reg.example/nf\nTAG=1.2.3\nfor svc in ingest enrich index; do\n" +
		"  docker build -f deploy/docker/Dockerfile --build-arg SERVICE=$svc -t \"$REGISTRY/$svc:$TAG\" .\n" +
		"  docker push \"$REGISTRY/$svc:$TAG\"\ndone\n"
	site := "mkdir -p deploy/k8s/overlays/site && cat > deploy/k8s/overlays/site/kustomization.yaml <<EOF\n" +
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../production]\nimages:\n" +
		"  - {name: newsflow/ingest, newName: $REGISTRY/ingest, newTag: \"$TAG\"}\n" +
		"  - {name: newsflow/enrich, newName: $REGISTRY/enrich, newTag: \"$TAG\"}\n" +
		"  - {name: newsflow/index, newName: $REGISTRY/index, newTag: \"$TAG\"}\nEOF\n"
	tests := []struct {
		name, page string
		problems   []string // a part of each problem, in order
	}{
		{"site overlay on the pushed images", build + site + "kubectl apply -k deploy/k8s/overlays/site\n```\n", nil},
		{"the production overlay as it is", build + "kubectl apply -k deploy/k8s/overlays/production\n```\n",
			[]string{"Deployment/enrich", "Deployment/index", "Deployment/ingest", "push reg.example/nf/enrich:1.2.3", "push reg.example/nf/index:1.2.3", "push reg.example/nf/ingest:1.2.3"}},
		{"built, never pushed", strings.ReplaceAll(build, "  docker push \"$REGISTRY/$svc:$TAG\"\n", "") + site + "kubectl apply -k deploy/k8s/overlays/site\n```\n",
			[]string{"never build and push", "never build and push", "never build and push", "builds reg.example/nf/", "builds reg.example/nf/", "builds reg.example/nf/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewShellRun()
			for _, c := range parseAll(t, tt.page) {
				if err := r.Run(c); err != nil {
					t.Fatal(err)
				}
			}
			got := imageProblems(t, "fixture", r.Ran)
			slices.Sort(got)
			if len(got) != len(tt.problems) {
				t.Fatalf("problems %q, want %d like %q", got, len(tt.problems), tt.problems)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.problems[i]) {
					t.Errorf("problem %q does not mention %q", got[i], tt.problems[i])
				}
			}
		})
	}
}
