package checks

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// newsflowNamespace is the namespace every namespaced object of deploy/k8s is meant for (the
// README's `kubectl create namespace newsflow`, base/namespace.yaml).
const newsflowNamespace = "newsflow"

// clusterScoped are the kinds that have no namespace. Any other kind is namespaced, so a new
// kind is checked unless it is added here.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true, "ValidatingWebhookConfiguration": true,
	"MutatingWebhookConfiguration": true, "ClusterTriggerAuthentication": true,
}

// TestKubernetesNamespaces: every namespaced object of every kustomization, as built, names the
// newsflow namespace. An object without one is applied to whatever namespace kubectl is using
// (usually default): a PodMonitor there finds no pods, a PrometheusRule there may not be loaded.
// deploy/k8s/monitoring is a Component, built here as its overlay uses it (on top of base).
func TestKubernetesNamespaces(t *testing.T) {
	for _, dir := range []string{"base", "overlays/production", "platform"} {
		t.Run(dir, func(t *testing.T) {
			checkNamespaces(t, objects(t, kustomize(t, dir)))
		})
	}
	t.Run("monitoring", func(t *testing.T) {
		objs := kustomizeComponent(t, "monitoring")
		if objs["PodMonitor/newsflow"] == nil || objs["PrometheusRule/newsflow"] == nil {
			t.Fatalf("the monitoring component built without its PodMonitor and PrometheusRule (%d objects)", len(objs))
		}
		checkNamespaces(t, objs)
	})
	pm := objects(t, kustomize(t, "overlays/production"))["PodMonitor/newsflow"]
	if pm == nil {
		t.Fatal("overlays/production has no PodMonitor/newsflow")
	}
	// Without a namespaceSelector the operator looks in the PodMonitor's own namespace only.
	names, _ := get(pm, "spec", "namespaceSelector", "matchNames").([]any)
	if len(names) != 1 || names[0] != newsflowNamespace || get(pm, "spec", "namespaceSelector", "any") == true {
		t.Errorf("PodMonitor/newsflow spec.namespaceSelector = %v, want matchNames: [%s]", get(pm, "spec", "namespaceSelector"), newsflowNamespace)
	}
}

func checkNamespaces(t *testing.T, objs map[string]map[string]any) {
	t.Helper()
	for k, o := range objs {
		kind := str(o, "kind")
		ns := str(o, "metadata", "namespace")
		switch {
		case clusterScoped[kind] && ns != "":
			t.Errorf("%s is cluster-scoped but has namespace %q", k, ns)
		case !clusterScoped[kind] && ns != newsflowNamespace:
			t.Errorf("%s has namespace %q after kustomize build, want %q (explicitly: otherwise kubectl applies it to the current namespace)", k, ns, newsflowNamespace)
		}
	}
}

// kustomizeComponent builds a Component the way an overlay includes it: a throw-away
// kustomization with no namespace of its own, resources ../base and components [dir].
func kustomizeComponent(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	tmp := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	rel := func(p string) string {
		r, err := filepath.Rel(tmp, path(t, "deploy", "k8s", p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + rel("base") + "]\ncomponents: [" + rel(dir) + "]\n"
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), tmp)
	if err != nil {
		t.Fatalf("kustomize build of a kustomization using component deploy/k8s/%s: %v", dir, err)
	}
	return objects(t, m)
}

// releaseLabel finds the release label the monitoring component sets: the one place it is written.
var releaseLabel = regexp.MustCompile(`(?m)^\s+release:\s*(\S+)\s*$`)

// TestMonitorsCarryReleaseLabel: kube-prometheus-stack's Prometheus selects only PodMonitors and
// PrometheusRules labelled release: <its Helm release name>. Both must carry it, the name must be
// set in one place (deploy/k8s/monitoring/kustomization.yaml), and the README must say so.
func TestMonitorsCarryReleaseLabel(t *testing.T) {
	var release string
	files, _ := filepath.Glob(path(t, "deploy", "k8s", "monitoring", "*.yaml"))
	for _, f := range files {
		for _, m := range releaseLabel.FindAllStringSubmatch(string(readFile(t, "deploy", "k8s", "monitoring", filepath.Base(f))), -1) {
			if filepath.Base(f) != "kustomization.yaml" || release != "" {
				t.Errorf("deploy/k8s/monitoring/%s sets release: %s; set the release name only once, in kustomization.yaml", filepath.Base(f), m[1])
				continue
			}
			release = m[1]
		}
	}
	if release == "" {
		t.Fatal("deploy/k8s/monitoring/kustomization.yaml does not set a release label")
	}
	objs := objects(t, kustomize(t, "overlays/production"))
	for _, k := range []string{"PodMonitor/newsflow", "PrometheusRule/newsflow"} {
		if got := str(objs[k], "metadata", "labels", "release"); got != release {
			t.Errorf("%s has label release=%q after kustomize build of overlays/production, want %q: kube-prometheus-stack would ignore it", k, got, release)
		}
	}
	readme := string(readFile(t, "deploy", "README.md"))
	if !strings.Contains(readme, "release: "+release) || !strings.Contains(readme, "k8s/monitoring/kustomization.yaml") {
		t.Errorf("deploy/README.md must name the label `release: %s` and where to change it (k8s/monitoring/kustomization.yaml)", release)
	}
}
