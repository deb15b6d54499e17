package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
)

const secureHint = "deploy/local/up.sh (make up) writes it when the local broker runs its SASL_SSL listener; " +
	"a broker started before that listener existed needs a restart of just Kafka: deploy/local/down.sh kafka && deploy/local/up.sh"

// KafkaEnvFile is where deploy/local/up.sh writes the settings of the local broker's SASL_SSL
// listener: $NEWSFLOW_LOCAL_KAFKA_ENV if set (a broker of another stack than the search engines'),
// else $NEWSFLOW_LOCAL_DIR/kafka.env (a relative folder is taken from the repository root, where
// make runs up.sh), else <repository>/.local/kafka.env.
func KafkaEnvFile() string {
	if f := os.Getenv("NEWSFLOW_LOCAL_KAFKA_ENV"); f != "" {
		return f
	}
	d := os.Getenv("NEWSFLOW_LOCAL_DIR")
	if filepath.IsAbs(d) {
		return filepath.Join(d, "kafka.env")
	}
	if d == "" {
		d = ".local"
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join(d, "kafka.env")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, d, "kafka.env")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(d, "kafka.env")
		}
		dir = parent
	}
}

// SecureKafka returns the settings of the local broker's SASL_SSL listener (TLS with the local
// CA, SCRAM-SHA-512) after checking that it accepts them. A missing kafka.env or a broker that
// refuses fails the test with instructions; only -short skips it.
func SecureKafka(t testing.TB) kafkax.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped under -short: needs the local Kafka's SASL_SSL listener")
	}
	path := KafkaEnvFile()
	vars, err := readEnvFile(path)
	if err != nil {
		t.Fatalf("settings of the SASL_SSL Kafka listener: %v; %s", err, secureHint)
	}
	c := kafkax.Config{
		Brokers: config.SplitList(vars["NEWSFLOW_KAFKA_BROKERS"]), Partitions: 3, ReplicationFactor: 1, WriteTimeout: 10 * time.Second,
		TLS:  kafkax.TLSConfig{Enabled: vars["NEWSFLOW_KAFKA_TLS"] == "true", CAFile: vars["NEWSFLOW_KAFKA_CA_FILE"]},
		SASL: kafkax.SASLConfig{Mechanism: vars["NEWSFLOW_KAFKA_SASL_MECHANISM"], Username: vars["NEWSFLOW_KAFKA_SASL_USERNAME"], Password: config.Secret(vars["NEWSFLOW_KAFKA_SASL_PASSWORD"])},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("%s: %v; %s", path, err, secureHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("SASL_SSL Kafka listener from %s does not answer: %v; %s", path, err, secureHint)
	}
	return c
}

// KafkaEnv renders c's connection settings as the NEWSFLOW_KAFKA_* variables the services read,
// for tests that start them as processes.
func KafkaEnv(c kafkax.Config) []string {
	env := []string{"NEWSFLOW_KAFKA_BROKERS=" + strings.Join(c.Brokers, ",")}
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	if c.TLS.Enabled {
		add("NEWSFLOW_KAFKA_TLS", "true")
	}
	add("NEWSFLOW_KAFKA_CA_FILE", c.TLS.CAFile)
	add("NEWSFLOW_KAFKA_CERT_FILE", c.TLS.CertFile)
	add("NEWSFLOW_KAFKA_KEY_FILE", c.TLS.KeyFile)
	add("NEWSFLOW_KAFKA_SERVER_NAME", c.TLS.ServerName)
	add("NEWSFLOW_KAFKA_SASL_MECHANISM", c.SASL.Mechanism)
	add("NEWSFLOW_KAFKA_SASL_USERNAME", c.SASL.Username)
	add("NEWSFLOW_KAFKA_SASL_PASSWORD", string(c.SASL.Password))
	return env
}

// readEnvFile reads KEY=VALUE lines as up.sh writes them (no quoting), skipping comments and
// export lines.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "export ") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE", path, line)
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if vars["NEWSFLOW_KAFKA_BROKERS"] == "" {
		return nil, fmt.Errorf("%s: no NEWSFLOW_KAFKA_BROKERS", path)
	}
	return vars, nil
}
