package checks

import (
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomize builds a kustomization in-process with the kustomize library (what `kustomize
// build` and `kubectl apply -k` run).
func kustomize(t *testing.T, dir string) resmap.ResMap {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), path(t, "deploy", "k8s", dir))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s/%s: %v", dir, err)
	}
	return m
}

// objects decodes every resource into a generic map, keyed "Kind/name".
func objects(t *testing.T, m resmap.ResMap) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := yaml.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		out[r.GetKind()+"/"+r.GetName()] = o
	}
	return out
}

// get walks a decoded object: get(o, "spec", "template", "spec").
func get(o any, keys ...any) any {
	for _, k := range keys {
		switch kk := k.(type) {
		case string:
			m, ok := o.(map[string]any)
			if !ok {
				return nil
			}
			o = m[kk]
		case int:
			s, ok := o.([]any)
			if !ok || kk >= len(s) {
				return nil
			}
			o = s[kk]
		}
	}
	return o
}

func str(o any, keys ...any) string { s, _ := get(o, keys...).(string); return s }

func TestKustomizeBuilds(t *testing.T) {
	for _, dir := range []string{"base", "overlays/production", "platform"} {
		t.Run(dir, func(t *testing.T) {
			if n := kustomize(t, dir).Size(); n == 0 {
				t.Fatal("no resources")
			}
		})
	}
}

// TestKubernetesWorkloads checks the production overlay: each service a Deployment with
// probes on its admin port, resources and a non-root security context, a PodDisruptionBudget
// selecting its pods, config from the ConfigMap, and KEDA scaling enrich and index on the lag
// of exactly the consumer groups and topics the ConfigMap gives them.
func TestKubernetesWorkloads(t *testing.T) {
	objs := objects(t, kustomize(t, "overlays/production"))
	var cm map[string]any
	for k, o := range objs {
		if strings.HasPrefix(k, "ConfigMap/newsflow-config-") {
			cm = o
		}
	}
	if cm == nil {
		t.Fatal("no generated ConfigMap newsflow-config-<hash>")
	}
	conf := map[string]string{}
	for k, v := range get(cm, "data").(map[string]any) {
		conf[k] = v.(string)
	}
	for _, svc := range Services {
		d := objs["Deployment/"+svc]
		if d == nil {
			t.Errorf("Deployment %s missing", svc)
			continue
		}
		pod := get(d, "spec", "template", "spec")
		c := get(pod, "containers", 0)
		if str(c, "args", 0) != "serve" {
			t.Errorf("%s runs %v, want serve", svc, get(c, "args"))
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
			if str(c, probe, "httpGet", "port") != "admin" {
				t.Errorf("%s: %s does not use the admin port", svc, probe)
			}
		}
		if str(c, "livenessProbe", "httpGet", "path") != "/healthz" || str(c, "readinessProbe", "httpGet", "path") != "/readyz" {
			t.Errorf("%s: liveness must be /healthz and readiness /readyz", svc)
		}
		for _, kind := range []string{"requests", "limits"} {
			for _, res := range []string{"cpu", "memory"} {
				if get(c, "resources", kind, res) == nil {
					t.Errorf("%s: resources.%s.%s missing", svc, kind, res)
				}
			}
		}
		if get(pod, "securityContext", "runAsNonRoot") != true || get(c, "securityContext", "allowPrivilegeEscalation") != false {
			t.Errorf("%s must run as non-root without privilege escalation", svc)
		}
		if !strings.HasPrefix(str(c, "envFrom", 0, "configMapRef", "name"), "newsflow-config-") {
			t.Errorf("%s does not read the generated ConfigMap", svc)
		}
		adminPort := 0
		for i := 0; get(c, "ports", i) != nil; i++ {
			if str(c, "ports", i, "name") == "admin" {
				adminPort = int(get(c, "ports", i, "containerPort").(float64))
			}
		}
		for i := 0; get(c, "env", i) != nil; i++ {
			if str(c, "env", i, "name") == "NEWSFLOW_ADMIN_ADDR" && !strings.HasSuffix(str(c, "env", i, "value"), ":"+strconv.Itoa(adminPort)) {
				t.Errorf("%s: NEWSFLOW_ADMIN_ADDR %s is not the admin containerPort %d", svc, str(c, "env", i, "value"), adminPort)
			}
		}
		pdb := objs["PodDisruptionBudget/"+svc]
		podLabels := get(d, "spec", "template", "metadata", "labels").(map[string]any)
		sel, _ := get(pdb, "spec", "selector", "matchLabels").(map[string]any)
		if len(sel) == 0 {
			t.Errorf("PodDisruptionBudget %s missing or selects nothing", svc)
		}
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("PodDisruptionBudget %s selects %s=%v, which %s's pods do not carry", svc, k, v, svc)
			}
		}
	}
	partitions, _ := strconv.Atoi(conf["NEWSFLOW_KAFKA_PARTITIONS"])
	for _, svc := range []string{"enrich", "index"} {
		so := objs["ScaledObject/"+svc]
		if so == nil {
			t.Errorf("ScaledObject %s missing", svc)
			continue
		}
		if target := str(so, "spec", "scaleTargetRef", "name"); objs["Deployment/"+target] == nil {
			t.Errorf("ScaledObject %s scales %q, not a Deployment of the build", svc, target)
		}
		if max, _ := get(so, "spec", "maxReplicaCount").(float64); max < 1 || int(max) > partitions {
			t.Errorf("ScaledObject %s maxReplicaCount %v: want 1..%d (partitions; more consumers would idle)", svc, max, partitions)
		}
		tr := get(so, "spec", "triggers", 0)
		up := strings.ToUpper(svc)
		if str(tr, "type") != "kafka" {
			t.Errorf("ScaledObject %s trigger %q, want kafka", svc, str(tr, "type"))
		}
		for field, key := range map[string]string{"consumerGroup": "NEWSFLOW_" + up + "_GROUP", "topic": "NEWSFLOW_" + up + "_TOPIC", "bootstrapServers": "NEWSFLOW_KAFKA_BROKERS"} {
			if got := str(tr, "metadata", field); got == "" || got != conf[key] {
				t.Errorf("ScaledObject %s %s=%q, but the service uses %s=%q", svc, field, got, key, conf[key])
			}
		}
	}
	if objs["PodMonitor/newsflow"] == nil || objs["PrometheusRule/newsflow"] == nil {
		t.Error("the production overlay should include the monitoring component (PodMonitor, PrometheusRule)")
	}
}

// TestKubernetesEnvKnownToServices: the ConfigMap's keys and the containers' env (literal or
// from a Secret) are variables the services read (from their --help), in the base and in the
// production overlay (which merges its own keys into the ConfigMap).
func TestKubernetesEnvKnownToServices(t *testing.T) {
	for _, dir := range []string{"base", "overlays/production"} {
		t.Run(dir, func(t *testing.T) { checkEnvKnown(t, dir) })
	}
}

func checkEnvKnown(t *testing.T, dir string) {
	sb := services(t)
	objs := objects(t, kustomize(t, dir))
	anyService := map[string]bool{}
	for _, svc := range Services {
		for k := range sb.env[svc]["serve"] {
			anyService[k] = true
		}
	}
	for k, o := range objs {
		if strings.HasPrefix(k, "ConfigMap/newsflow-config") {
			for key := range get(o, "data").(map[string]any) {
				if !anyService[key] {
					t.Errorf("ConfigMap key %s is read by no service (known: %v)", key, Sorted(anyService))
				}
			}
		}
	}
	for _, svc := range Services {
		c := get(objs["Deployment/"+svc], "spec", "template", "spec", "containers", 0)
		for i := 0; get(c, "env", i) != nil; i++ {
			if n := str(c, "env", i, "name"); strings.HasPrefix(n, "NEWSFLOW_") && !sb.env[svc]["serve"][n] {
				t.Errorf("Deployment %s sets %s, which `%s serve --help` does not list", svc, n, svc)
			}
		}
	}
}

// TestPlatformMatchesConfig: the Strimzi and ECK resources create what the ConfigMap points at.
func TestPlatformMatchesConfig(t *testing.T) {
	objs := objects(t, kustomize(t, "platform"))
	base := objects(t, kustomize(t, "base"))
	conf := map[string]string{}
	for k, o := range base {
		if strings.HasPrefix(k, "ConfigMap/newsflow-config") {
			for key, v := range get(o, "data").(map[string]any) {
				conf[key] = v.(string)
			}
		}
	}
	var kafkaName, esName, ns string
	var kafka map[string]any
	topics := map[string]int{}
	for k, o := range objs {
		switch {
		case strings.HasPrefix(k, "Kafka/"):
			kafka, kafkaName, ns = o, str(o, "metadata", "name"), str(o, "metadata", "namespace")
		case strings.HasPrefix(k, "Elasticsearch/"):
			esName = str(o, "metadata", "name")
		case strings.HasPrefix(k, "KafkaTopic/"):
			p, _ := get(o, "spec", "partitions").(float64)
			topics[str(o, "spec", "topicName")] = int(p)
		}
	}
	// Fully qualified Service names: KEDA's scaler runs in the keda namespace, where a short
	// name does not resolve, and the certificates Strimzi and ECK make name the .svc forms.
	// The Kafka port is the TLS listener's (TestKubernetesKafkaSecurity checks it is TLS + SCRAM).
	tlsPort := ""
	for i := 0; get(kafka, "spec", "kafka", "listeners", i) != nil; i++ {
		if l := get(kafka, "spec", "kafka", "listeners", i); get(l, "tls") == true {
			tlsPort = strconv.Itoa(int(get(l, "port").(float64)))
		}
	}
	if want := kafkaName + "-kafka-bootstrap." + ns + ".svc:" + tlsPort; conf["NEWSFLOW_KAFKA_BROKERS"] != want {
		t.Errorf("NEWSFLOW_KAFKA_BROKERS=%s, but Strimzi's bootstrap service, TLS listener, is %s", conf["NEWSFLOW_KAFKA_BROKERS"], want)
	}
	if want := "https://" + esName + "-es-http." + ns + ".svc:9200"; conf["NEWSFLOW_SEARCH_URL"] != want {
		t.Errorf("NEWSFLOW_SEARCH_URL=%s, but ECK's HTTPS service is %s", conf["NEWSFLOW_SEARCH_URL"], want)
	}
	partitions, _ := strconv.Atoi(conf["NEWSFLOW_KAFKA_PARTITIONS"])
	for _, key := range []string{"NEWSFLOW_INGEST_TOPIC", "NEWSFLOW_ENRICH_TOPIC", "NEWSFLOW_ENRICH_OUTPUT_TOPIC", "NEWSFLOW_INDEX_TOPIC"} {
		if p, ok := topics[conf[key]]; !ok || p != partitions {
			t.Errorf("%s=%s: KafkaTopic missing or with %d partitions, want %d", key, conf[key], p, partitions)
		}
	}
	if _, ok := topics["articles.dlq"]; !ok {
		t.Error("no KafkaTopic for articles.dlq")
	}
}

// TestKubernetesGoMemLimit: every container with a memory limit, in the base and in the production
// overlay, sets GOMEMLIMIT (Go's soft memory limit) to 70-95% of that limit. Without it Go's
// collector lets the heap double before collecting and the kernel kills the pod first; at the limit
// itself there is no room for the stacks and buffers outside the Go heap.
func TestKubernetesGoMemLimit(t *testing.T) {
	for _, dir := range []string{"base", "overlays/production"} {
		t.Run(dir, func(t *testing.T) {
			objs := objects(t, kustomize(t, dir))
			checked := 0
			for key, o := range objs {
				pod := get(o, "spec", "template", "spec")
				if pod == nil {
					continue
				}
				for _, list := range []string{"initContainers", "containers"} {
					for i := 0; get(pod, list, i) != nil; i++ {
						c := get(pod, list, i)
						lim := str(c, "resources", "limits", "memory")
						if lim == "" {
							continue
						}
						checked++
						where := key + " container " + str(c, "name")
						limit, err := k8sBytes(lim)
						if err != nil {
							t.Errorf("%s: memory limit %q: %v", where, lim, err)
							continue
						}
						soft := ""
						for j := 0; get(c, "env", j) != nil; j++ {
							if str(c, "env", j, "name") == "GOMEMLIMIT" {
								soft = str(c, "env", j, "value")
							}
						}
						if soft == "" {
							t.Errorf("%s has a memory limit of %s but no GOMEMLIMIT value (want 70-95%% of the limit, e.g. %dMiB)", where, lim, limit*85/100>>20)
							continue
						}
						n, err := goMemLimitBytes(soft)
						if err != nil {
							t.Errorf("%s: GOMEMLIMIT=%q: %v", where, soft, err)
							continue
						}
						if pct := float64(n) / float64(limit) * 100; pct < 70 || pct > 95 {
							t.Errorf("%s: GOMEMLIMIT=%s is %.0f%% of the memory limit %s, want 70-95%%", where, soft, pct, lim)
						}
					}
				}
			}
			if checked == 0 {
				t.Error("no container with a memory limit: nothing checked")
			}
		})
	}
}

// k8sBytes parses a Kubernetes memory quantity in its common forms: 256Mi, 1Gi, 512M, 1e9, 1000.
func k8sBytes(q string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(q, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			return int64(v * float64(u.mult)), err
		}
	}
	v, err := strconv.ParseFloat(q, 64)
	return int64(v), err
}

// goMemLimitBytes parses GOMEMLIMIT as the Go runtime does: a number of bytes with an optional
// B, KiB, MiB, GiB or TiB suffix.
func goMemLimitBytes(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
