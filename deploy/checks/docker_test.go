package checks

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks what can be checked without a Docker engine: a multi-stage build of a
// static binary from ./services/$SERVICE/cmd/$SERVICE (the package the tests build) into a
// minimal image that runs as a non-root user, and a .dockerignore keeping local state out of the
// build context. Building the images needs Docker, which these machines do not have.
func TestDockerfile(t *testing.T) {
	df := string(readFile(t, "deploy", "docker", "Dockerfile"))
	var froms []string
	var lastUser string
	for _, l := range strings.Split(df, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, strings.Join(f[1:], " "))
			lastUser = ""
		case "USER":
			lastUser = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, found FROM %v", froms)
	}
	final := froms[len(froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage is %q, want distroless/static or scratch", final)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(lastUser) {
		t.Errorf("final stage runs as USER %q, want a numeric non-root user", lastUser)
	}
	for _, want := range []string{"ARG SERVICE", "CGO_ENABLED=0", "./services/${SERVICE}/cmd/${SERVICE}", "ENTRYPOINT"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	for _, s := range Services {
		if _, err := os.Stat(path(t, "services", s, "cmd", s, "main.go")); err != nil {
			t.Errorf("the image of %s is built from services/%s/cmd/%s: %v", s, s, s, err)
		}
	}
	ign := strings.Fields(string(readFile(t, ".dockerignore")))
	for _, want := range []string{".git", ".local/", "bin/"} {
		found := false
		for _, l := range ign {
			if strings.TrimSuffix(l, "/") == strings.TrimSuffix(want, "/") {
				found = true
			}
		}
		if !found {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
