package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestSecureKafkaPipeline runs ingest → enrich → index with every Kafka connection over the local
// broker's SASL_SSL listener (TLS verified against the local CA, SCRAM-SHA-512), fed through HTTP
// and through `ingest import`, and checks that exactly the accepted articles become searchable,
// once each, and that no log shows the Kafka password.
func TestSecureKafkaPipeline(t *testing.T) {
	kc := testenv.SecureKafka(t)
	eng := testenv.SearchEngines(t)[0]
	data := testenv.DataDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	r := newRig(t, kc, eng)
	r.kafkaEnv = testenv.KafkaEnv(kc)
	t.Logf("kafka %v over SASL_SSL %s; search engine: %s", kc.Brokers, kc.SASL.Mechanism, r.engine(ctx))
	ing, ingestURL := r.ingest()
	enr, idx := r.enrich("enrich"), r.index("index")
	startAll(ing, enr, idx)
	accepted := map[string]bool{}

	// HTTP: the seed article as text/plain, and 20 Reuters stories as NDJSON.
	seedID, _ := postSeed(ctx, t, ingestURL, data)
	accepted[seedID] = true
	reuters := loadReuters(t, 40)
	res, err := pipeline.Post(ctx, ingestURL, "", "application/x-ndjson", pipeline.NDJSON(reuters[:20]), nil)
	if err != nil || res.Status != 202 || res.Accepted != 20 {
		t.Fatalf("NDJSON: %+v %v", res, err)
	}
	for _, it := range res.Items {
		accepted[it.ID] = true
	}

	// `ingest import` through the same listener: 20 more stories, 5 of them already sent over
	// HTTP (the same ids, so still one document each).
	file := filepath.Join(t.TempDir(), "reuters.jsonl")
	if err := os.WriteFile(file, pipeline.NDJSON(reuters[15:40]), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := r.importFile(ctx, file)
	if err != nil || !strings.Contains(out, "25 read, 25 accepted, 0 duplicates, 0 rejected") {
		t.Fatalf("ingest import over SASL_SSL: %v\n%s", err, out)
	}
	for i := range reuters[15:40] {
		accepted[article.ID(&reuters[15+i])] = true
	}

	alias := r.prefix
	testenv.Eventually(t, 2*time.Minute, "every accepted article to be searchable", func() (bool, string) {
		n, err := pipeline.Count(ctx, r.sc, alias)
		return err == nil && n >= len(accepted), fmt.Sprintf("%d of %d searchable (err %v)", n, len(accepted), err)
	})
	if n, _ := pipeline.Count(ctx, r.sc, alias); n != len(accepted) {
		t.Fatalf("index holds %d documents, want exactly %d", n, len(accepted))
	}
	var ids []string
	for id := range accepted {
		ids = append(ids, id)
	}
	n, _, err := pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"ids": map[string]any{"values": ids}}})
	if err != nil || n != len(accepted) {
		t.Fatalf("%d of the %d accepted ids are in the index (%v)", n, len(accepted), err)
	}
	// The seed article arrived enriched.
	_, hits, err := pipeline.Search(ctx, r.sc, alias, map[string]any{"query": map[string]any{"ids": map[string]any{"values": []string{seedID}}}})
	if err != nil || len(hits) != 1 {
		t.Fatalf("seed document: %v %v", hits, err)
	}
	ents, _ := hits[0].Source["entities"].(map[string]any)
	if loc := toStrings(ents["loc"]); !slices.Contains(loc, "Hama") {
		t.Errorf("seed entities.loc = %v, missing Hama", loc)
	}

	for _, p := range []*proc{ing, enr, idx} {
		if err := p.stop(syscall.SIGTERM, 40*time.Second); err != nil {
			t.Errorf("%s on SIGTERM: %v", p.Name, err)
		}
	}
	// The password reached every process, and no log shows it.
	pw := string(kc.SASL.Password)
	for _, p := range []*proc{ing, enr, idx} {
		if b, _ := os.ReadFile(p.Log); strings.Contains(string(b), pw) {
			t.Errorf("the log of %s shows the Kafka password", p.Name)
		}
	}
	if strings.Contains(out, pw) {
		t.Error("ingest import's output shows the Kafka password")
	}
}

// TestSecureKafkaStartupFailsFast: each service, and `ingest import`, given a wrong password or a
// CA that did not sign the broker certificate, exits at start-up within seconds with an error
// naming the broker and the mechanism (or TLS), instead of retrying until its start-up timeout.
func TestSecureKafkaStartupFailsFast(t *testing.T) {
	kc := testenv.SecureKafka(t)
	eng := testenv.SearchEngines(t)[0]
	broker := kc.Brokers[0]
	wrongPassword := append(testenv.KafkaEnv(kc), "NEWSFLOW_KAFKA_SASL_PASSWORD=not-the-password")
	untrustedCA := append(testenv.KafkaEnv(kc), "NEWSFLOW_KAFKA_CA_FILE="+testenv.UntrustedCA(t))
	saslMsg := "kafka " + broker + ": SASL " + kc.SASL.Mechanism + " authentication failed"
	tlsMsg := "kafka " + broker + ": TLS: tls: failed to verify certificate: x509: certificate signed by unknown authority"

	for _, tc := range []struct {
		name, service string
		env           []string
		want          string
	}{
		{"ingest wrong password", "ingest", wrongPassword, saslMsg},
		{"enrich wrong password", "enrich", wrongPassword, saslMsg},
		{"index wrong password", "index", wrongPassword, saslMsg},
		{"ingest untrusted CA", "ingest", untrustedCA, tlsMsg},
		{"index untrusted CA", "index", untrustedCA, tlsMsg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, kc, eng)
			r.kafkaEnv = tc.env
			var p *proc
			switch tc.service {
			case "ingest":
				p, _ = r.ingest()
			case "enrich":
				p = r.enrich("enrich")
			default:
				p = r.index("index")
			}
			start := time.Now()
			p.start()
			testenv.Eventually(t, 30*time.Second, tc.service+" to exit", func() (bool, string) { return p.Exited(), "still running" })
			took := time.Since(start)
			if err := p.stop(syscall.SIGTERM, time.Second); err == nil {
				t.Fatalf("%s exited with status 0", tc.service)
			}
			log, _ := os.ReadFile(p.Log)
			if !strings.Contains(string(log), tc.want) {
				t.Fatalf("%s's log does not say %q:\n%s", tc.service, tc.want, pipeline.Tail(p.Log, 10))
			}
			if strings.Contains(string(log), "not-the-password") || strings.Contains(string(log), string(kc.SASL.Password)) {
				t.Fatalf("%s's log shows a password", tc.service)
			}
			t.Logf("%s exited after %v", tc.service, took.Round(100*time.Millisecond))
		})
	}

	t.Run("ingest import wrong password", func(t *testing.T) {
		r := newRig(t, kc, eng)
		r.kafkaEnv = wrongPassword
		file := filepath.Join(t.TempDir(), "one.jsonl")
		if err := os.WriteFile(file, []byte(`{"title":"t","body":"b","source":"s"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		out, err := r.importFile(ctx, file)
		if err == nil || ctx.Err() != nil || !strings.Contains(out, saslMsg) {
			t.Fatalf("import with a wrong password after %v: %v\n%s", time.Since(start), err, out)
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("import took %v to fail", time.Since(start))
		}
	})
}
