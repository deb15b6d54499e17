package checks

import (
	"regexp"
	"strings"
	"testing"
)

// versionRow is a row of deploy/README.md's table of the versions the manifests were written for.
type versionRow struct {
	line        int
	component   string
	version     string
	apiVersions map[string]bool
	chart       string // "repo/chart" when the row names a Helm chart
	chartVer    string
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	chartCell  = regexp.MustCompile("chart `([^`/]+/[^`]+)` ([0-9][0-9A-Za-z.+-]*)")
)

// versionsTable reads the table whose header starts | component | version | API versions.
func versionsTable(t *testing.T, page string) []versionRow {
	t.Helper()
	var rows []versionRow
	in := false
	for i, l := range strings.Split(string(readFile(t, page)), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "| component | version | API versions") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		r := versionRow{line: i + 1, component: strings.TrimSpace(cells[0]), version: strings.TrimSpace(cells[1]), apiVersions: map[string]bool{}}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			r.apiVersions[m[1]] = true
		}
		if m := chartCell.FindStringSubmatch(cells[1]); m != nil {
			r.chart, r.chartVer = m[1], m[2]
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no table of the versions the manifests were written for (a table with the header | component | version | API versions … |)", page)
	}
	return rows
}

// TestVersionsTable: deploy/README.md lists, for every API version any kustomization of
// deploy/k8s builds, the operator (or Kubernetes) that serves it and its version; and every
// `helm install` on the page pins --version to the version its chart's row gives. Without a pin
// a fresh install gets the newest chart, which may no longer serve the API the manifests use
// (Strimzi 1.0 dropped kafka.strimzi.io/v1beta2): `kubectl apply` then fails with "no matches
// for kind".
func TestVersionsTable(t *testing.T) {
	const page = "deploy/README.md"
	rows := versionsTable(t, page)
	served := map[string]bool{}
	for _, r := range rows {
		for v := range r.apiVersions {
			served[v] = true
		}
	}
	builds := map[string]map[string]map[string]any{}
	for _, dir := range []string{"base", "overlays/production", "platform"} {
		builds["deploy/k8s/"+dir] = objects(t, kustomize(t, dir))
	}
	builds["deploy/k8s/monitoring (on base)"] = kustomizeComponent(t, "monitoring")
	for where, objs := range builds {
		for _, k := range sortedKeys(objs) {
			if v := str(objs[k], "apiVersion"); !served[v] {
				t.Errorf("%s builds %s as %s, which no row of %s's versions table names: add the component that serves it and the version the manifest was written for", where, k, v, page)
			}
		}
	}
	_, cmds := readmeSnippets(t, page)
	installs := 0
	for _, c := range runAll(t, page, cmds) {
		a := c.Args
		if len(a) < 4 || a[0] != "helm" || (a[1] != "install" && a[1] != "upgrade") {
			continue // a mention of `helm install` in prose has no chart
		}
		installs++
		chart, version := a[3], ""
		if a[1] == "upgrade" && a[2] == "--install" && len(a) > 4 {
			chart = a[4]
		}
		for i, w := range a {
			switch {
			case w == "--version" && i+1 < len(a):
				version = a[i+1]
			case strings.HasPrefix(w, "--version="):
				version = strings.TrimPrefix(w, "--version=")
			}
		}
		var row *versionRow
		for i := range rows {
			if rows[i].chart == chart {
				row = &rows[i]
			}
		}
		switch {
		case row == nil:
			t.Errorf("%s:%d installs the chart %s, which no row of the versions table names (write it as chart `%s` <version>)", page, c.Line, chart, chart)
		case version == "":
			t.Errorf("%s:%d: helm install %s has no --version: a fresh install gets the newest chart, not %s, the version the manifests were written for (table line %d)", page, c.Line, chart, row.chartVer, row.line)
		case version != row.chartVer:
			t.Errorf("%s:%d: helm install %s --version %s, but the versions table (line %d) says %s", page, c.Line, chart, version, row.line, row.chartVer)
		}
	}
	if installs == 0 {
		t.Errorf("%s installs no chart with helm: the operators' install commands are missing", page)
	}
}
