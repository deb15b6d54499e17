package checks

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

// The namespaces deploy/k8s/base/networkpolicy.yaml admits, by their kubernetes.io/metadata.name
// label (deploy/README.md tells users to change them there).
const (
	monitoringNamespace = "monitoring"
	ingressNamespace    = "ingress-nginx"
)

// cluster is what the security checks need from one kustomize build plus the platform build.
type cluster struct {
	objs     map[string]map[string]any // the build checked (base or overlays/production)
	platform map[string]map[string]any // deploy/k8s/platform
	conf     map[string]string         // newsflow-config of the build
	kafka    map[string]any            // the Strimzi Kafka resource
	es       map[string]any            // the ECK Elasticsearch resource
}

func loadCluster(t *testing.T, dir string) cluster {
	t.Helper()
	c := cluster{objs: objects(t, kustomize(t, dir)), platform: objects(t, kustomize(t, "platform")), conf: map[string]string{}}
	for k, o := range c.objs {
		if strings.HasPrefix(k, "ConfigMap/newsflow-config") {
			for key, v := range get(o, "data").(map[string]any) {
				c.conf[key] = v.(string)
			}
		}
	}
	for k, o := range c.platform {
		switch {
		case strings.HasPrefix(k, "Kafka/"):
			c.kafka = o
		case strings.HasPrefix(k, "Elasticsearch/"):
			c.es = o
		}
	}
	if len(c.conf) == 0 || c.kafka == nil || c.es == nil {
		t.Fatalf("%s: want the ConfigMap newsflow-config, and a Kafka and an Elasticsearch in platform", dir)
	}
	return c
}

func (c cluster) kafkaName() string { return str(c.kafka, "metadata", "name") }
func (c cluster) esName() string    { return str(c.es, "metadata", "name") }

// container returns the Deployment's pod spec and its first container.
func (c cluster) container(t *testing.T, svc string) (pod, ctr any) {
	t.Helper()
	d := c.objs["Deployment/"+svc]
	if d == nil {
		t.Fatalf("Deployment %s missing", svc)
	}
	pod = get(d, "spec", "template", "spec")
	return pod, get(pod, "containers", 0)
}

// env returns what a container's variables resolve to: a literal value (its own env or a ConfigMap
// it reads with envFrom) or a reference to a Secret's key.
type envValue struct {
	Value       string
	Secret, Key string // a valueFrom.secretKeyRef
	FromSecret  bool
	Optional    bool
}

func (c cluster) env(t *testing.T, svc string) map[string]envValue {
	t.Helper()
	_, ctr := c.container(t, svc)
	out := map[string]envValue{}
	for i := 0; get(ctr, "envFrom", i) != nil; i++ {
		name := str(ctr, "envFrom", i, "configMapRef", "name")
		if name == "" {
			continue // a secretRef: refused by TestKubernetesSecretsRequired
		}
		cm := c.objs["ConfigMap/"+name]
		if cm == nil {
			t.Fatalf("%s reads ConfigMap %s, which the build does not contain", svc, name)
		}
		for k, v := range get(cm, "data").(map[string]any) {
			out[k] = envValue{Value: v.(string)}
		}
	}
	for i := 0; get(ctr, "env", i) != nil; i++ {
		e := get(ctr, "env", i)
		v := envValue{Value: str(e, "value")}
		if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
			v = envValue{Secret: str(ref, "name"), Key: str(ref, "key"), Optional: get(ref, "optional") == true, FromSecret: true}
		}
		out[str(e, "name")] = v
	}
	return out
}

// mountedSecretFile finds which Secret key a container sees at file: the volume mounted at the
// longest prefix of the path must be a Secret volume, and its items (or, without items, its
// keys) must put a key at exactly that path.
func mountedSecretFile(pod, ctr any, file string) (secret, key string, optional bool, err error) {
	best, rel := -1, ""
	var vm any
	for i := 0; get(ctr, "volumeMounts", i) != nil; i++ {
		m := get(ctr, "volumeMounts", i)
		mp := filepath.Clean(str(m, "mountPath"))
		switch {
		case str(m, "subPath") != "" && mp == filepath.Clean(file):
			best, vm, rel = len(mp), m, str(m, "subPath")
		case str(m, "subPath") == "" && strings.HasPrefix(filepath.Clean(file), mp+"/") && len(mp) > best:
			best, vm, rel = len(mp), m, strings.TrimPrefix(filepath.Clean(file), mp+"/")
		}
	}
	if vm == nil {
		return "", "", false, fmt.Errorf("no volume is mounted at %s or a folder above it", file)
	}
	var vol any
	for i := 0; get(pod, "volumes", i) != nil; i++ {
		if str(pod, "volumes", i, "name") == str(vm, "name") {
			vol = get(pod, "volumes", i)
		}
	}
	if get(vol, "secret") == nil {
		return "", "", false, fmt.Errorf("the volume %q mounted at %s is not a Secret volume", str(vm, "name"), str(vm, "mountPath"))
	}
	secret, optional = str(vol, "secret", "secretName"), get(vol, "secret", "optional") == true
	if get(vol, "secret", "items") == nil {
		return secret, rel, optional, nil // every key of the Secret is a file named like the key
	}
	for i := 0; get(vol, "secret", "items", i) != nil; i++ {
		if filepath.Clean(str(vol, "secret", "items", i, "path")) == rel {
			return secret, str(vol, "secret", "items", i, "key"), optional, nil
		}
	}
	return "", "", false, fmt.Errorf("the Secret volume %q (Secret %s) puts no key at %s", str(vm, "name"), secret, rel)
}

// builds are the kustomizations of the services that the security checks cover.
var builds = []string{"base", "overlays/production"}

// TestKubernetesSecretsRequired: every Secret a Deployment uses is required, so that a missing
// credential keeps the pod from starting instead of starting it unauthenticated; in particular
// ingest's bearer tokens come from a mounted Secret (NEWSFLOW_INGEST_TOKEN_FILE) or a Secret key,
// and nothing turns anonymous ingest on. Every variable from a Secret is named in the manifest
// (no envFrom secretRef), so TestKubernetesEnvKnownToServices can check it against --help.
func TestKubernetesSecretsRequired(t *testing.T) {
	for _, dir := range builds {
		t.Run(dir, func(t *testing.T) {
			c := loadCluster(t, dir)
			for _, svc := range Services {
				pod, ctr := c.container(t, svc)
				for i := 0; get(ctr, "envFrom", i) != nil; i++ {
					if get(ctr, "envFrom", i, "secretRef") != nil {
						t.Errorf("%s reads the Secret %s whole (envFrom): name each variable with valueFrom.secretKeyRef instead, so that the checks see it", svc, str(ctr, "envFrom", i, "secretRef", "name"))
					}
				}
				for name, v := range c.env(t, svc) {
					if v.FromSecret && (v.Optional || v.Secret == "" || v.Key == "") {
						t.Errorf("%s: %s from Secret %q key %q: the reference must name both and not be optional", svc, name, v.Secret, v.Key)
					}
					if strings.Contains(name, "INSECURE") {
						if b, _ := strconv.ParseBool(v.Value); b {
							t.Errorf("%s sets %s=%s", svc, name, v.Value)
						}
					}
				}
				for i := 0; get(pod, "volumes", i) != nil; i++ {
					if get(pod, "volumes", i, "secret", "optional") == true {
						t.Errorf("%s: Secret volume %s is optional", svc, str(pod, "volumes", i, "name"))
					}
				}
				for i := 0; get(ctr, "args", i) != nil; i++ {
					if strings.Contains(str(ctr, "args", i), "insecure") {
						t.Errorf("%s runs with %s", svc, str(ctr, "args", i))
					}
				}
			}
			env := c.env(t, "ingest")
			pod, ctr := c.container(t, "ingest")
			tok, file := env["NEWSFLOW_INGEST_TOKEN"], env["NEWSFLOW_INGEST_TOKEN_FILE"]
			switch {
			case file.Value != "":
				secret, key, optional, err := mountedSecretFile(pod, ctr, file.Value)
				if err != nil {
					t.Errorf("ingest: NEWSFLOW_INGEST_TOKEN_FILE=%s: %v", file.Value, err)
				} else if optional || secret == "" || key == "" {
					t.Errorf("ingest: the token file comes from Secret %q key %q, optional=%v: want a required Secret", secret, key, optional)
				}
			case tok.FromSecret:
				// Checked above: required, with a key.
			default:
				t.Error("ingest has no bearer token from a Secret (NEWSFLOW_INGEST_TOKEN_FILE on a mounted Secret, or NEWSFLOW_INGEST_TOKEN from a secretKeyRef): its API would be open, or it would refuse to start")
			}
			if tok.Value != "" {
				t.Error("ingest: NEWSFLOW_INGEST_TOKEN is a literal in the manifest; take it from a Secret")
			}
		})
	}
}

// TestKubernetesCAFilesMounted: every *_FILE a stage is given (CA, client certificate and key,
// token file) is a file of a mounted Secret, and the CAs are the ones the operators publish:
// Strimzi's <cluster>-cluster-ca-cert and ECK's <name>-es-http-certs-public, key ca.crt. A
// path that does not match the mount, or a Secret of another name, would fail at start-up in
// the cluster and nowhere else.
func TestKubernetesCAFilesMounted(t *testing.T) {
	for _, dir := range builds {
		t.Run(dir, func(t *testing.T) {
			c := loadCluster(t, dir)
			want := map[string][2]string{
				"NEWSFLOW_KAFKA_CA_FILE":  {c.kafkaName() + "-cluster-ca-cert", "ca.crt"},
				"NEWSFLOW_SEARCH_CA_FILE": {c.esName() + "-es-http-certs-public", "ca.crt"},
			}
			for _, svc := range Services {
				pod, ctr := c.container(t, svc)
				env := c.env(t, svc)
				for _, name := range Sorted(envNames(env)) {
					if !strings.HasSuffix(name, "_FILE") || env[name].Value == "" {
						continue
					}
					secret, key, _, err := mountedSecretFile(pod, ctr, env[name].Value)
					if err != nil {
						t.Errorf("%s: %s=%s: %v", svc, name, env[name].Value, err)
						continue
					}
					if w, ok := want[name]; ok && (secret != w[0] || key != w[1]) {
						t.Errorf("%s: %s=%s is key %s of Secret %s, want key %s of %s", svc, name, env[name].Value, key, secret, w[1], w[0])
					}
				}
				if b, _ := strconv.ParseBool(env["NEWSFLOW_KAFKA_TLS"].Value); b && env["NEWSFLOW_KAFKA_CA_FILE"].Value == "" {
					t.Errorf("%s talks TLS to Kafka without NEWSFLOW_KAFKA_CA_FILE: Strimzi's CA is not in the system roots", svc)
				}
			}
			env := c.env(t, "index")
			if strings.HasPrefix(env["NEWSFLOW_SEARCH_URL"].Value, "https://") && env["NEWSFLOW_SEARCH_CA_FILE"].Value == "" && env["NEWSFLOW_SEARCH_CA_FINGERPRINT"].Value == "" {
				t.Error("index uses https without NEWSFLOW_SEARCH_CA_FILE: ECK's self-signed CA is not in the system roots")
			}
		})
	}
}

// TestKubernetesAdminPortsPrivate: no Service exposes an admin port (Prometheus scrapes the pods
// directly, through the PodMonitor), every Service is ClusterIP, no pod uses the host's network
// or ports, and the production overlay turns pprof off in every stage, with a variable every
// stage reads.
func TestKubernetesAdminPortsPrivate(t *testing.T) {
	sb := services(t)
	for _, dir := range builds {
		t.Run(dir, func(t *testing.T) {
			c := loadCluster(t, dir)
			admin := map[string]bool{"admin": true}
			for _, svc := range Services {
				pod, ctr := c.container(t, svc)
				if get(pod, "hostNetwork") == true {
					t.Errorf("%s uses the host network", svc)
				}
				for i := 0; get(ctr, "ports", i) != nil; i++ {
					p := get(ctr, "ports", i)
					if get(p, "hostPort") != nil {
						t.Errorf("%s: port %s has a hostPort", svc, str(p, "name"))
					}
					if str(p, "name") == "admin" {
						admin[strconv.Itoa(int(get(p, "containerPort").(float64)))] = true
					}
				}
			}
			for k, o := range c.objs {
				if !strings.HasPrefix(k, "Service/") {
					continue
				}
				if typ := str(o, "spec", "type"); typ != "" && typ != "ClusterIP" {
					t.Errorf("%s is of type %s: expose the API through the ingress controller, not the nodes", k, typ)
				}
				for i := 0; get(o, "spec", "ports", i) != nil; i++ {
					p := get(o, "spec", "ports", i)
					target := fmt.Sprint(get(p, "targetPort"))
					if get(p, "targetPort") == nil {
						target = fmt.Sprint(get(p, "port"))
					}
					if f, ok := get(p, "targetPort").(float64); ok {
						target = strconv.Itoa(int(f))
					}
					if admin[target] {
						t.Errorf("%s exposes the admin port (%s)", k, target)
					}
				}
			}
			if dir != "overlays/production" {
				return
			}
			for _, svc := range Services {
				v := c.env(t, svc)["NEWSFLOW_ADMIN_PPROF"]
				if on, err := strconv.ParseBool(v.Value); err != nil || on {
					t.Errorf("%s: NEWSFLOW_ADMIN_PPROF=%q in production, want false", svc, v.Value)
				}
				if !sb.env[svc]["serve"]["NEWSFLOW_ADMIN_PPROF"] {
					t.Errorf("`%s serve --help` does not list NEWSFLOW_ADMIN_PPROF: setting it turns nothing off", svc)
				}
			}
		})
	}
}

// need is what one stage does in Kafka, from the ConfigMap's topics and group.
type need struct {
	read, write []string
	group       string
}

func kafkaNeeds(conf map[string]string) map[string]need {
	or := func(k, def string) string {
		if v := conf[k]; v != "" {
			return v
		}
		return def
	}
	return map[string]need{
		// ingest joins its feed-lease group on the topic it writes (no Read on the topic: it
		// never fetches); NEWSFLOW_INGEST_FEED_GROUP set empty turns the lease off. The group is
		// needed whether or not this ConfigMap lists feeds: an overlay or the pod may add them.
		"ingest": {write: []string{or("NEWSFLOW_INGEST_TOPIC", kafkax.TopicRaw)}, group: feedGroup(conf)},
		"enrich": {read: []string{or("NEWSFLOW_ENRICH_TOPIC", kafkax.TopicRaw)},
			write: []string{or("NEWSFLOW_ENRICH_OUTPUT_TOPIC", kafkax.TopicEnriched), or("NEWSFLOW_ENRICH_DLQ_TOPIC", kafkax.TopicDLQ)},
			group: or("NEWSFLOW_ENRICH_GROUP", "newsflow-enrich")},
		"index": {read: []string{or("NEWSFLOW_INDEX_TOPIC", kafkax.TopicEnriched)},
			write: []string{or("NEWSFLOW_INDEX_DLQ_TOPIC", kafkax.TopicDLQ)},
			group: or("NEWSFLOW_INDEX_GROUP", "newsflow-index")},
	}
}

// feedGroup is ingest's --feed-group as the ConfigMap sets it: its default when absent, none
// when set empty.
func feedGroup(conf map[string]string) string {
	if v, ok := conf["NEWSFLOW_INGEST_FEED_GROUP"]; ok {
		return v
	}
	return "newsflow-ingest-feeds"
}

// TestKubernetesKafkaSecurity: the Strimzi cluster serves clients only on a TLS listener with
// SCRAM-SHA-512 and authorizes with ACLs; each stage connects to that listener over TLS as its
// own KafkaUser, whose password it reads from the Secret the User Operator writes (named like
// the user); and each user's ACLs grant what the stage does (including Create on the topics it
// ensures at start-up, which Kafka refuses without it even when they exist) and nothing more.
// KEDA's TriggerAuthentications use the same user, password and CA.
func TestKubernetesKafkaSecurity(t *testing.T) {
	c := loadCluster(t, "overlays/production")
	for k, o := range c.platform {
		if strings.HasPrefix(str(o, "apiVersion"), "kafka.strimzi.io/") && str(o, "apiVersion") != "kafka.strimzi.io/v1" {
			t.Errorf("%s is %s: Strimzi 1.0 serves only kafka.strimzi.io/v1", k, str(o, "apiVersion"))
		}
	}
	_, brokerPort, err := net.SplitHostPort(strings.Split(c.conf["NEWSFLOW_KAFKA_BROKERS"], ",")[0])
	if err != nil {
		t.Fatalf("NEWSFLOW_KAFKA_BROKERS=%q: %v", c.conf["NEWSFLOW_KAFKA_BROKERS"], err)
	}
	secure := false
	for i := 0; get(c.kafka, "spec", "kafka", "listeners", i) != nil; i++ {
		l := get(c.kafka, "spec", "kafka", "listeners", i)
		port := strconv.Itoa(int(get(l, "port").(float64)))
		ok := get(l, "tls") == true && str(l, "authentication", "type") == "scram-sha-512"
		if !ok {
			t.Errorf("Kafka listener %s (port %s): tls=%v authentication=%q, want every client listener TLS with scram-sha-512", str(l, "name"), port, get(l, "tls"), str(l, "authentication", "type"))
		}
		secure = secure || (ok && port == brokerPort)
	}
	if !secure {
		t.Errorf("NEWSFLOW_KAFKA_BROKERS port %s is not a TLS + SCRAM-SHA-512 listener of Kafka %s", brokerPort, c.kafkaName())
	}
	if str(c.kafka, "spec", "kafka", "authorization", "type") != "simple" {
		t.Error("Kafka has no spec.kafka.authorization.type: simple, so the KafkaUsers' ACLs are not enforced")
	}
	if get(c.kafka, "spec", "entityOperator", "userOperator") == nil {
		t.Error("Kafka has no entityOperator.userOperator: nobody creates the KafkaUsers")
	}
	needs := kafkaNeeds(c.conf)
	for _, svc := range Services {
		env := c.env(t, svc)
		if b, _ := strconv.ParseBool(env["NEWSFLOW_KAFKA_TLS"].Value); !b {
			t.Errorf("%s: NEWSFLOW_KAFKA_TLS=%q, want true", svc, env["NEWSFLOW_KAFKA_TLS"].Value)
		}
		if m := env["NEWSFLOW_KAFKA_SASL_MECHANISM"].Value; m != kafkax.MechanismScramSHA512 {
			t.Errorf("%s: NEWSFLOW_KAFKA_SASL_MECHANISM=%q, want %s (the listener's)", svc, m, kafkax.MechanismScramSHA512)
		}
		user := env["NEWSFLOW_KAFKA_SASL_USERNAME"].Value
		ku := c.platform["KafkaUser/"+user]
		if ku == nil {
			t.Errorf("%s connects as %q, which is no KafkaUser of platform", svc, user)
			continue
		}
		if pw := env["NEWSFLOW_KAFKA_SASL_PASSWORD"]; pw.Secret != user || pw.Key != "password" {
			t.Errorf("%s: NEWSFLOW_KAFKA_SASL_PASSWORD comes from Secret %q key %q; Strimzi writes user %s's password to Secret %s key password", svc, pw.Secret, pw.Key, user, user)
		}
		if l := str(ku, "metadata", "labels", "strimzi.io/cluster"); l != c.kafkaName() {
			t.Errorf("KafkaUser %s belongs to cluster %q, want %q", user, l, c.kafkaName())
		}
		if str(ku, "spec", "authentication", "type") != "scram-sha-512" || str(ku, "spec", "authorization", "type") != "simple" {
			t.Errorf("KafkaUser %s: want authentication scram-sha-512 and authorization simple", user)
		}
		granted := map[string]bool{} // "topic/articles.raw/Read"
		for i := 0; get(ku, "spec", "authorization", "acls", i) != nil; i++ {
			a := get(ku, "spec", "authorization", "acls", i)
			if str(a, "type") == "deny" {
				continue // takes away, grants nothing
			}
			rt, rn := str(a, "resource", "type"), str(a, "resource", "name")
			if pt := str(a, "resource", "patternType"); (pt != "" && pt != "literal") || rn == "*" {
				t.Errorf("KafkaUser %s: ACL on %s %q (pattern %q): want literal names", user, rt, rn, pt)
			}
			for j := 0; get(a, "operations", j) != nil; j++ {
				granted[rt+"/"+rn+"/"+str(a, "operations", j)] = true
			}
		}
		n := needs[svc]
		required := map[string]bool{}
		for _, tp := range n.read {
			for _, op := range []string{"Read", "Describe", "Create"} {
				required["topic/"+tp+"/"+op] = true
			}
		}
		for _, tp := range n.write {
			for _, op := range []string{"Write", "Describe", "Create"} {
				required["topic/"+tp+"/"+op] = true
			}
		}
		if n.group != "" {
			required["group/"+n.group+"/Read"] = true
			required["group/"+n.group+"/Describe"] = true
		}
		for _, r := range Sorted(required) {
			if !granted[r] {
				t.Errorf("KafkaUser %s lacks %s, which %s needs", user, r, svc)
			}
		}
		for _, g := range Sorted(granted) {
			if !required[g] {
				t.Errorf("KafkaUser %s grants %s, which %s does not need", user, g, svc)
			}
		}
	}
	for _, svc := range []string{"enrich", "index"} {
		so := c.objs["ScaledObject/"+svc]
		tr := get(so, "spec", "triggers", 0)
		if str(tr, "metadata", "tls") != "enable" || str(tr, "metadata", "sasl") != "scram_sha512" {
			t.Errorf("ScaledObject %s: tls=%q sasl=%q, want enable and scram_sha512 (the listener's)", svc, str(tr, "metadata", "tls"), str(tr, "metadata", "sasl"))
		}
		ta := c.objs["TriggerAuthentication/"+str(tr, "authenticationRef", "name")]
		if ta == nil {
			t.Errorf("ScaledObject %s: authenticationRef %q is no TriggerAuthentication of the build", svc, str(tr, "authenticationRef", "name"))
			continue
		}
		env := c.env(t, svc)
		params := map[string]string{}
		for i := 0; get(ta, "spec", "secretTargetRef", i) != nil; i++ {
			r := get(ta, "spec", "secretTargetRef", i)
			params[str(r, "parameter")] = "secret " + str(r, "name") + " key " + str(r, "key")
		}
		for i := 0; get(ta, "spec", "env", i) != nil; i++ {
			r := get(ta, "spec", "env", i)
			if cn := str(r, "containerName"); cn != "" && cn != svc {
				t.Errorf("TriggerAuthentication for %s reads the env of container %q", svc, cn)
			}
			if v, ok := env[str(r, "name")]; ok && !v.FromSecret {
				params[str(r, "parameter")] = "value " + v.Value
			} else {
				params[str(r, "parameter")] = "unresolved env " + str(r, "name")
			}
		}
		user := env["NEWSFLOW_KAFKA_SASL_USERNAME"].Value
		for p, w := range map[string]string{
			"ca":       "secret " + c.kafkaName() + "-cluster-ca-cert key ca.crt",
			"password": "secret " + user + " key password",
			"username": "value " + user,
		} {
			if params[p] != w {
				t.Errorf("TriggerAuthentication of %s: %s is %q, want %q", svc, p, params[p], w)
			}
		}
	}
}

// TestKubernetesSearchSecurity: ECK keeps TLS on; index reaches the HTTPS service by its fully
// qualified name with ECK's CA and a user of its own, whose role covers the index prefix.
func TestKubernetesSearchSecurity(t *testing.T) {
	c := loadCluster(t, "overlays/production")
	if get(c.es, "spec", "http", "tls", "selfSignedCertificate", "disabled") == true {
		t.Error("Elasticsearch disables HTTP TLS")
	}
	env := c.env(t, "index")
	u, err := url.Parse(env["NEWSFLOW_SEARCH_URL"].Value)
	if err != nil || u.Scheme != "https" {
		t.Errorf("NEWSFLOW_SEARCH_URL=%q, want https", env["NEWSFLOW_SEARCH_URL"].Value)
	}
	if env["NEWSFLOW_SEARCH_API_KEY"].FromSecret {
		return // an API key: its privileges live in Elasticsearch, not in these files
	}
	user, pw := env["NEWSFLOW_SEARCH_USERNAME"], env["NEWSFLOW_SEARCH_PASSWORD"]
	if !pw.FromSecret {
		t.Fatalf("index: NEWSFLOW_SEARCH_PASSWORD must come from a Secret (got %+v)", pw)
	}
	if pw.Secret == c.esName()+"-es-elastic-user" {
		if user.Value != "elastic" || pw.Key != "elastic" {
			t.Errorf("index uses %s: want NEWSFLOW_SEARCH_USERNAME=elastic and key elastic (got %q, key %q)", pw.Secret, user.Value, pw.Key)
		}
		return // the elastic superuser: no role to check
	}
	if !user.FromSecret || user.Secret != pw.Secret {
		t.Fatalf("index: NEWSFLOW_SEARCH_USERNAME and _PASSWORD must come from one Secret (got %+v, %+v)", user, pw)
	}
	realm := false
	for i := 0; get(c.es, "spec", "auth", "fileRealm", i) != nil; i++ {
		realm = realm || str(c.es, "spec", "auth", "fileRealm", i, "secretName") == user.Secret
	}
	if !realm {
		t.Fatalf("index logs in with Secret %s, which Elasticsearch's spec.auth.fileRealm does not list (nor is it %s-es-elastic-user)", user.Secret, c.esName())
	}
	if user.Key != "username" || pw.Key != "password" {
		t.Errorf("index reads keys %q and %q of %s; ECK's basic-auth file-realm Secrets hold username and password", user.Key, pw.Key, user.Secret)
	}
	// The prefix's indices, alias and template must be covered by a role of spec.auth.roles.
	prefix := c.conf["NEWSFLOW_INDEX_PREFIX"]
	covered := false
	for i := 0; get(c.es, "spec", "auth", "roles", i) != nil; i++ {
		s := c.platform["Secret/"+str(c.es, "spec", "auth", "roles", i, "secretName")]
		var roles map[string]struct {
			Cluster []string `json:"cluster"`
			Indices []struct {
				Names      []string `json:"names"`
				Privileges []string `json:"privileges"`
			} `json:"indices"`
		}
		if err := yaml.Unmarshal([]byte(str(s, "stringData", "roles.yml")), &roles); err != nil {
			t.Fatalf("roles.yml of %s: %v", str(c.es, "spec", "auth", "roles", i, "secretName"), err)
		}
		for _, r := range roles {
			for _, ix := range r.Indices {
				if (slices.Contains(ix.Names, prefix+"*")) && slices.Contains(ix.Privileges, "write") && slices.Contains(ix.Privileges, "manage") &&
					slices.Contains(r.Cluster, "manage_index_templates") && slices.Contains(r.Cluster, "monitor") {
					covered = true
				}
			}
		}
	}
	if !covered {
		t.Errorf("no role of spec.auth.roles gives %s* write and manage with the cluster privileges manage_index_templates and monitor", prefix)
	}
}

// TestKubernetesNetworkPolicies: each stage has a NetworkPolicy selecting its pods (and no other
// stage's) for both directions. Ingress: the admin port from the monitoring namespace only,
// ingest's API from the ingress controller's namespace only, nothing else. Egress: DNS, the
// Kafka brokers' client port, Elasticsearch's HTTP port for index only, and for ingest the
// feeds on public addresses (80/443) but not the private ranges.
func TestKubernetesNetworkPolicies(t *testing.T) {
	for _, dir := range builds {
		t.Run(dir, func(t *testing.T) {
			c := loadCluster(t, dir)
			_, kafkaPort, _ := net.SplitHostPort(strings.Split(c.conf["NEWSFLOW_KAFKA_BROKERS"], ",")[0])
			es, _ := url.Parse(c.conf["NEWSFLOW_SEARCH_URL"])
			podLabels := map[string]map[string]any{}
			for _, svc := range Services {
				podLabels[svc], _ = get(c.objs["Deployment/"+svc], "spec", "template", "metadata", "labels").(map[string]any)
			}
			for _, svc := range Services {
				var np map[string]any
				for k, o := range c.objs {
					if !strings.HasPrefix(k, "NetworkPolicy/") {
						continue
					}
					sel, _ := get(o, "spec", "podSelector", "matchLabels").(map[string]any)
					if len(sel) > 0 && selects(sel, podLabels[svc]) {
						if np != nil {
							t.Errorf("%s's pods are selected by more than one NetworkPolicy; keep one per stage", svc)
						}
						np = o
					}
				}
				if np == nil {
					t.Errorf("no NetworkPolicy selects %s's pods (labels %v)", svc, podLabels[svc])
					continue
				}
				sel := get(np, "spec", "podSelector", "matchLabels").(map[string]any)
				for _, other := range Services {
					if other != svc && selects(sel, podLabels[other]) {
						t.Errorf("NetworkPolicy %s also selects %s's pods", str(np, "metadata", "name"), other)
					}
				}
				types := fmt.Sprint(get(np, "spec", "policyTypes"))
				if !strings.Contains(types, "Ingress") || !strings.Contains(types, "Egress") {
					t.Errorf("NetworkPolicy %s: policyTypes %s, want Ingress and Egress", str(np, "metadata", "name"), types)
				}
				_, ctr := c.container(t, svc)
				ports := map[string]string{} // container port number -> name
				for i := 0; get(ctr, "ports", i) != nil; i++ {
					ports[strconv.Itoa(int(get(ctr, "ports", i, "containerPort").(float64)))] = str(ctr, "ports", i, "name")
				}
				// Ingress: which namespaces reach which named port.
				admitted := map[string]bool{}
				for i := 0; get(np, "spec", "ingress", i) != nil; i++ {
					r := get(np, "spec", "ingress", i)
					from := peers(r, "from")
					rp := rulePorts(r)
					if len(from) == 0 || len(rp) == 0 {
						t.Errorf("NetworkPolicy %s: an ingress rule without from or ports admits everyone or every port", svc)
						continue
					}
					for _, p := range rp {
						name := ports[p]
						if name == "" {
							name = p // a named port
						}
						for _, f := range from {
							admitted[name+" from "+f] = true
						}
					}
				}
				want := map[string]bool{"admin from namespace " + monitoringNamespace: true}
				if svc == "ingest" {
					want["http from namespace "+ingressNamespace] = true
				}
				for w := range want {
					if !admitted[w] {
						t.Errorf("NetworkPolicy %s does not admit %s", svc, w)
					}
				}
				for a := range admitted {
					if !want[a] {
						t.Errorf("NetworkPolicy %s admits %s, which %s does not need", svc, a, svc)
					}
				}
				// Egress.
				allowed := map[string]bool{}
				for i := 0; get(np, "spec", "egress", i) != nil; i++ {
					r := get(np, "spec", "egress", i)
					to := peers(r, "to")
					rp := rulePorts(r)
					if len(to) == 0 || len(rp) == 0 {
						t.Errorf("NetworkPolicy %s: an egress rule without to or ports lets the stage reach anything", svc)
						continue
					}
					for _, p := range rp {
						for _, d := range to {
							allowed[d+" port "+p] = true
						}
					}
				}
				// A peer with a podSelector only is in the policy's own namespace.
				for what, o := range map[string]map[string]any{"Kafka": c.kafka, "Elasticsearch": c.es} {
					if ns := str(o, "metadata", "namespace"); ns != str(np, "metadata", "namespace") {
						t.Errorf("%s runs in namespace %q, NetworkPolicy %s in %q: its podSelector peers do not reach it", what, ns, svc, str(np, "metadata", "namespace"))
					}
				}
				dns := "namespace kube-system pods k8s-app=kube-dns"
				kafka := "pods strimzi.io/broker-role=true,strimzi.io/cluster=" + c.kafkaName()
				need := map[string]bool{dns + " port 53": true, kafka + " port " + kafkaPort: true}
				if svc == "index" {
					need["pods elasticsearch.k8s.elastic.co/cluster-name="+c.esName()+" port "+es.Port()] = true
				}
				for n := range need {
					if !allowed[n] {
						t.Errorf("NetworkPolicy %s does not let %s reach %s", svc, svc, n)
					}
				}
				for a := range allowed {
					switch {
					case need[a]:
					case svc == "ingest" && (strings.HasSuffix(a, " port 80") || strings.HasSuffix(a, " port 443")) && strings.HasPrefix(a, "ipBlock 0.0.0.0/0 except "):
						for _, private := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} {
							if !strings.Contains(a, private) {
								t.Errorf("NetworkPolicy ingest: the feed rule %s does not exclude %s", a, private)
							}
						}
					default:
						t.Errorf("NetworkPolicy %s lets %s reach %s, which it does not need", svc, svc, a)
					}
				}
			}
		})
	}
}

// selects reports whether a matchLabels selector matches a set of labels.
func selects(sel, labels map[string]any) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// peers describes each peer of a rule's from/to as a comparable string; "" ports or peers
// mean "all", which the callers refuse.
func peers(rule any, field string) []string {
	var out []string
	for i := 0; get(rule, field, i) != nil; i++ {
		p := get(rule, field, i)
		var parts []string
		if ns := get(p, "namespaceSelector"); ns != nil {
			name := str(ns, "matchLabels", "kubernetes.io/metadata.name")
			if name == "" {
				name = "ANY(" + fmt.Sprint(ns) + ")"
			}
			parts = append(parts, "namespace "+name)
		}
		if ps := get(p, "podSelector"); ps != nil {
			ml, _ := get(ps, "matchLabels").(map[string]any)
			var kv []string
			for k, v := range ml {
				kv = append(kv, fmt.Sprintf("%s=%v", k, v))
			}
			slices.Sort(kv)
			parts = append(parts, "pods "+strings.Join(kv, ","))
		}
		if ib := get(p, "ipBlock"); ib != nil {
			parts = append(parts, fmt.Sprintf("ipBlock %s except %v", str(ib, "cidr"), get(ib, "except")))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func rulePorts(rule any) []string {
	var out []string
	for i := 0; get(rule, "ports", i) != nil; i++ {
		switch p := get(rule, "ports", i, "port").(type) {
		case float64:
			out = append(out, strconv.Itoa(int(p)))
		case string:
			out = append(out, p)
		}
	}
	return out
}

func envNames(m map[string]envValue) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
