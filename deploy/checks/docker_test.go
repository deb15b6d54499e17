package checks

import (
	"os"
	"regexp"
	"strconv"
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

// TestDockerGoVersion: the build stage's Go is at least go.work's `go` line. The golang images set
// GOTOOLCHAIN=local, so an image older than go.work (a cached golang:1.26 before 1.26.7) fails the
// build instead of fetching the toolchain; unless the Dockerfile sets GOTOOLCHAIN=auto, the ARG
// GO_VERSION default and every GO_VERSION build argument Compose passes must be that version or newer.
func TestDockerGoVersion(t *testing.T) {
	m := regexp.MustCompile(`(?m)^go\s+([0-9][0-9.]*)\s*$`).FindStringSubmatch(string(readFile(t, "go.work")))
	if m == nil {
		t.Fatal("go.work has no go line")
	}
	want := m[1]
	df := string(readFile(t, "deploy", "docker", "Dockerfile"))
	if regexp.MustCompile(`(?m)^\s*ENV\s+GOTOOLCHAIN[= ]auto\b`).MatchString(df) {
		return // the build fetches the toolchain go.work asks for
	}
	versions := map[string]string{}
	if a := regexp.MustCompile(`(?m)^ARG\s+GO_VERSION(?:=(\S*))?\s*$`).FindStringSubmatch(df); a == nil || a[1] == "" {
		t.Errorf("deploy/docker/Dockerfile has no ARG GO_VERSION with a default (want %s, go.work's go line)", want)
	} else {
		versions["deploy/docker/Dockerfile ARG GO_VERSION"] = a[1]
	}
	if !strings.Contains(df, "golang:${GO_VERSION}") {
		t.Errorf("the build stage is not FROM golang:${GO_VERSION}…, so GO_VERSION does not choose its Go")
	}
	for name, s := range loadCompose(t).Services {
		if s.Build == nil {
			continue
		}
		if v := s.Build.Args["GO_VERSION"]; v != nil {
			versions["compose "+name+" build arg GO_VERSION"] = *v
		}
	}
	for where, v := range versions {
		if goVersionLess(v, want) {
			t.Errorf("%s is %s, older than go.work's go %s: the golang image's toolchain would refuse the build (GOTOOLCHAIN=local)", where, v, want)
		}
	}
}

// goVersionLess compares Go release versions such as 1.26 and 1.26.7 (1.26 is 1.26.0, older).
func goVersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
