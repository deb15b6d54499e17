package testenv

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

func TestReadKafkaEnvFileAndKafkaEnv(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "kafka.env")
	content := "# written by up.sh\nNEWSFLOW_KAFKA_BROKERS=127.0.0.1:9094\nNEWSFLOW_KAFKA_TLS=true\nNEWSFLOW_KAFKA_CA_FILE=/x/ca.pem\n" +
		"NEWSFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\nNEWSFLOW_KAFKA_SASL_USERNAME=newsflow\nNEWSFLOW_KAFKA_SASL_PASSWORD=a=b\nexport NEWSFLOW_KAFKA_BROKERS\n"
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	vars, err := readEnvFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if vars["NEWSFLOW_KAFKA_SASL_PASSWORD"] != "a=b" || vars["NEWSFLOW_KAFKA_BROKERS"] != "127.0.0.1:9094" || len(vars) != 6 {
		t.Fatalf("vars = %v", vars)
	}
	c := kafkax.Config{Brokers: []string{"127.0.0.1:9094"}, TLS: kafkax.TLSConfig{Enabled: true, CAFile: "/x/ca.pem"},
		SASL: kafkax.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "newsflow", Password: "a=b"}}
	env := KafkaEnv(c)
	for k, v := range vars {
		if !slices.Contains(env, k+"="+v) {
			t.Errorf("KafkaEnv lacks %s=%s: %v", k, v, env)
		}
	}
	if len(env) != len(vars) {
		t.Errorf("KafkaEnv = %v, want exactly the %d variables of the file", env, len(vars))
	}

	if _, err := readEnvFile(filepath.Join(dir, "missing.env")); err == nil {
		t.Fatal("a missing file was read")
	}
	if err := os.WriteFile(f, []byte("NEWSFLOW_KAFKA_TLS=true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(f); err == nil {
		t.Fatal("a file without brokers was accepted")
	}
}

func TestKafkaEnvFileLocation(t *testing.T) {
	t.Setenv("NEWSFLOW_LOCAL_KAFKA_ENV", "")
	t.Setenv("NEWSFLOW_LOCAL_DIR", "/abs/stack")
	if got := KafkaEnvFile(); got != "/abs/stack/kafka.env" {
		t.Fatalf("absolute NEWSFLOW_LOCAL_DIR: %s", got)
	}
	t.Setenv("NEWSFLOW_LOCAL_KAFKA_ENV", "/other/kafka.env")
	if got := KafkaEnvFile(); got != "/other/kafka.env" {
		t.Fatalf("NEWSFLOW_LOCAL_KAFKA_ENV: %s", got)
	}
	t.Setenv("NEWSFLOW_LOCAL_KAFKA_ENV", "")
	t.Setenv("NEWSFLOW_LOCAL_DIR", "")
	if got := KafkaEnvFile(); filepath.Base(got) != "kafka.env" || filepath.Base(filepath.Dir(got)) != ".local" || !filepath.IsAbs(got) {
		t.Fatalf("default: %s, want <repo>/.local/kafka.env", got)
	}
}
