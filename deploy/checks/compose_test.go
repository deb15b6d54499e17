package checks

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// loadCompose parses deploy/compose/compose.yaml with the Compose specification's own library,
// as `docker compose` does (interpolation with the defaults in the file, an empty environment).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{path(t, "deploy", "compose", "compose.yaml")},
		cli.WithEnv([]string{}), cli.WithInterpolation(true), cli.WithResolvedPaths(true), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker compose would reject deploy/compose/compose.yaml: %v", err)
	}
	return p
}

func TestComposeServicesPortsAndDependencies(t *testing.T) {
	p := loadCompose(t)
	if p.Name != "newsflow" {
		t.Errorf("project name %q, want newsflow", p.Name)
	}
	want := []string{"kafka", "elasticsearch", "kibana", "prometheus", "grafana", "ingest", "enrich", "index",
		"init-topics", "init-index", "init-kibana"}
	for _, n := range want {
		if _, ok := p.Services[n]; !ok {
			t.Errorf("service %s is missing", n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Ports people open on the host, all on loopback.
	ports := map[string]uint32{"ingest": 8080, "kibana": 5601, "grafana": 3000, "prometheus": 9090, "elasticsearch": 9200, "kafka": 9094}
	for svc, port := range ports {
		found := false
		for _, pc := range p.Services[svc].Ports {
			if pc.Target == port {
				found = true
				if pc.HostIP != "127.0.0.1" {
					t.Errorf("%s publishes %d on %q; want 127.0.0.1 only", svc, port, pc.HostIP)
				}
			}
		}
		if !found {
			t.Errorf("%s does not publish container port %d", svc, port)
		}
	}

	// Start order: the stack is healthy and initialised before the services start.
	deps := map[string]map[string]string{
		"init-topics": {"kafka": types.ServiceConditionHealthy},
		"init-index":  {"elasticsearch": types.ServiceConditionHealthy},
		"init-kibana": {"kibana": types.ServiceConditionHealthy, "init-index": types.ServiceConditionCompletedSuccessfully},
		"kibana":      {"elasticsearch": types.ServiceConditionHealthy},
		"grafana":     {"prometheus": types.ServiceConditionHealthy},
		"ingest":      {"kafka": types.ServiceConditionHealthy, "init-topics": types.ServiceConditionCompletedSuccessfully},
		"enrich":      {"kafka": types.ServiceConditionHealthy, "init-topics": types.ServiceConditionCompletedSuccessfully},
		"index": {"kafka": types.ServiceConditionHealthy, "elasticsearch": types.ServiceConditionHealthy,
			"init-topics": types.ServiceConditionCompletedSuccessfully, "init-index": types.ServiceConditionCompletedSuccessfully},
	}
	for svc, want := range deps {
		got := p.Services[svc].DependsOn
		for dep, cond := range want {
			if got[dep].Condition != cond {
				t.Errorf("%s depends on %s with condition %q, want %q", svc, dep, got[dep].Condition, cond)
			}
		}
	}
	for _, svc := range []string{"kafka", "elasticsearch", "kibana", "prometheus"} {
		if p.Services[svc].HealthCheck == nil || len(p.Services[svc].HealthCheck.Test) == 0 {
			t.Errorf("%s has no healthcheck, but others wait for it to be healthy", svc)
		}
	}
	for _, svc := range []string{"init-topics", "init-index", "init-kibana"} {
		if r := p.Services[svc].Restart; r != "no" {
			t.Errorf("one-shot %s has restart %q, want \"no\"", svc, r)
		}
	}

	// The init covers the three jobs of the issue.
	topics := strings.Join(p.Services["init-topics"].Command, " ")
	for _, topic := range []string{"articles.raw", "articles.enriched", "articles.dlq"} {
		if !strings.Contains(topics, topic) {
			t.Errorf("init-topics does not create %s", topic)
		}
	}
	if c := p.Services["init-index"].Command; len(c) == 0 || c[0] != "setup" {
		t.Errorf("init-index runs %v, want `index setup`", c)
	}
	kb := strings.Join(p.Services["init-kibana"].Command, " ")
	if !strings.Contains(kb, "/api/saved_objects/_import?overwrite=true") || !strings.Contains(kb, "/kibana/newsflow.ndjson") {
		t.Errorf("init-kibana does not import /kibana/newsflow.ndjson through the saved objects API: %s", kb)
	}

	// Images of the services are built from the repository root with the shared Dockerfile.
	root := root(t)
	for _, svc := range []string{"ingest", "enrich", "index", "init-index"} {
		b := p.Services[svc].Build
		if b == nil {
			t.Errorf("%s has no build section", svc)
			continue
		}
		if filepath.Clean(b.Context) != root {
			t.Errorf("%s builds from %s, want the repository root %s (go.work spans modules)", svc, b.Context, root)
		}
		if _, err := os.Stat(filepath.Join(b.Context, b.Dockerfile)); err != nil {
			t.Errorf("%s: Dockerfile %s: %v", svc, b.Dockerfile, err)
		}
		want := strings.TrimPrefix(svc, "init-")
		if a := b.Args["SERVICE"]; a == nil || *a != want {
			t.Errorf("%s builds with SERVICE=%v, want %s", svc, a, want)
		}
	}

	// Every bind mount names a file or folder of the repository.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
			}
		}
	}
}

// TestComposeScrapeTargets checks that deploy/prometheus/prometheus.yml scrapes each service
// under its Compose name at the admin port the service is told to listen on.
func TestComposeScrapeTargets(t *testing.T) {
	p := loadCompose(t)
	cfg := readScrapeConfig(t, "deploy", "prometheus", "prometheus.yml")
	targets := cfg.targets("newsflow")
	for _, svc := range Services {
		addr := p.Services[svc].Environment["NEWSFLOW_ADMIN_ADDR"]
		if addr == nil {
			t.Errorf("compose %s does not set NEWSFLOW_ADMIN_ADDR (the default listens on 127.0.0.1, unreachable from Prometheus)", svc)
			continue
		}
		host, port, err := net.SplitHostPort(*addr)
		if err != nil || (host != "0.0.0.0" && host != "") {
			t.Errorf("compose %s: NEWSFLOW_ADMIN_ADDR=%s should listen on all interfaces", svc, *addr)
		}
		want := svc + ":" + port
		if targets[svc] != want {
			t.Errorf("prometheus scrapes service=%s at %q, want %q", svc, targets[svc], want)
		}
	}
	if ds := readYAML(t, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"); !strings.Contains(string(ds), "http://prometheus:9090") {
		t.Errorf("the Grafana datasource does not point at the compose prometheus service")
	}
}

// TestComposeEnvKnownToServices checks that every NEWSFLOW_* variable Compose sets is one the
// command it runs reads (from the binaries' --help), so that a typo cannot silently fall back
// to a default.
func TestComposeEnvKnownToServices(t *testing.T) {
	p := loadCompose(t)
	sb := services(t)
	for name, s := range p.Services {
		svc := strings.TrimPrefix(name, "init-")
		if !slices.Contains(Services, svc) {
			continue
		}
		cmd := "serve"
		if len(s.Command) > 0 {
			cmd = s.Command[0]
		}
		known, ok := sb.env[svc][cmd]
		if !ok {
			t.Errorf("compose %s runs `%s %s`, a command the checks do not know", name, svc, cmd)
			continue
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "NEWSFLOW_") && !known[k] {
				t.Errorf("compose %s sets %s, which `%s %s --help` does not list (it knows %v)", name, k, svc, cmd, Sorted(known))
			}
		}
	}
}

func readYAML(t *testing.T, p ...string) []byte { t.Helper(); return readFile(t, p...) }

type scrapeConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
	dir string
}

func readScrapeConfig(t *testing.T, p ...string) scrapeConfig {
	t.Helper()
	var c scrapeConfig
	if err := yaml.Unmarshal(readFile(t, p...), &c); err != nil {
		t.Fatal(err)
	}
	c.dir = filepath.Dir(path(t, p...))
	return c
}

// targets maps the service label of job's targets to the target address.
func (c scrapeConfig) targets(job string) map[string]string {
	out := map[string]string{}
	for _, sc := range c.ScrapeConfigs {
		if sc.JobName != job {
			continue
		}
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				out[st.Labels["service"]] = tg
			}
		}
	}
	return out
}

// ruleFiles resolves the rule_files globs relative to the config file, as Prometheus does.
func (c scrapeConfig) ruleFiles(t *testing.T) []string {
	var out []string
	for _, g := range c.RuleFiles {
		if !filepath.IsAbs(g) {
			g = filepath.Join(c.dir, g)
		}
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	return out
}

// TestComposeKafkaHealthcheckHeap: Kafka's health check runs a Kafka CLI script, a JVM of its own,
// every interval inside the broker's container, where it inherits the broker's KAFKA_HEAP_OPTS
// (512 MB). The command must set its own heap, -Xmx at most 128m, for the script it runs.
func TestComposeKafkaHealthcheckHeap(t *testing.T) {
	kafka := loadCompose(t).Services["kafka"]
	hc := kafka.HealthCheck
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD-SHELL" {
		t.Fatalf("kafka's healthcheck should be CMD-SHELL (so it can set KAFKA_HEAP_OPTS), got %v", hc)
	}
	cmd := strings.Join(hc.Test[1:], " ")
	m := regexp.MustCompile(`KAFKA_HEAP_OPTS=(?:'([^']*)'|"([^"]*)"|(\S+))\s+(?:\S+/)?kafka-[a-z-]+\.sh`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("kafka's healthcheck does not set KAFKA_HEAP_OPTS for the script it runs, so every check starts a JVM with the broker's heap (%s): %s",
			deref(kafka.Environment["KAFKA_HEAP_OPTS"]), cmd)
	}
	opts := m[1] + m[2] + m[3]
	xmx := regexp.MustCompile(`-Xmx([0-9]+)([kKmMgG]?)`).FindStringSubmatch(opts)
	if xmx == nil {
		t.Fatalf("kafka's healthcheck KAFKA_HEAP_OPTS=%q sets no -Xmx", opts)
	}
	n, _ := strconv.ParseInt(xmx[1], 10, 64)
	n *= map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[strings.ToLower(xmx[2])]
	if n > 128<<20 {
		t.Errorf("kafka's healthcheck runs with -Xmx%s%s, want at most 128m", xmx[1], xmx[2])
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
