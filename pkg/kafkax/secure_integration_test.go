package kafkax_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestSecureRoundTrip writes and reads records through the local broker's SASL_SSL listener with
// every mechanism it offers: explicit topic creation, acks=all writes, a consumer group that
// commits, lag that reaches zero, and kcat (librdkafka, over TLS with PLAIN) reading back exactly
// what kafka-go wrote.
func TestSecureRoundTrip(t *testing.T) {
	base := testenv.SecureKafka(t)
	for _, mech := range []string{kafkax.MechanismScramSHA512, kafkax.MechanismScramSHA256, kafkax.MechanismPlain} {
		t.Run(mech, func(t *testing.T) {
			kc := base
			kc.SASL.Mechanism = mech
			if err := kc.Validate(); err != nil {
				t.Fatal(err)
			}
			topic, group := testenv.Name(t, "secure"), testenv.Name(t, "group")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := kc.EnsureTopics(ctx, topic); err != nil {
				t.Fatalf("EnsureTopics over SASL_SSL %s: %v", mech, err)
			}
			const n = 50
			want := map[string]string{}
			var msgs []kafka.Message
			for i := 0; i < n; i++ {
				k, v := fmt.Sprintf("id-%03d", i), fmt.Sprintf(`{"n":%d,"mech":%q}`, i, mech)
				want[k] = v
				msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(v)})
			}
			w := kc.NewWriter(topic)
			defer w.Close()
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("writing over SASL_SSL %s: %v", mech, err)
			}

			got := consumeAll(ctx, t, kc, group, topic, n, 20)
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("message %s: got %q, want %q", k, got[k], v)
				}
			}
			lag, err := kc.Lag(ctx, group, topic)
			if err != nil {
				t.Fatalf("lag over SASL_SSL: %v", err)
			}
			for p, l := range lag {
				if l != 0 {
					t.Fatalf("partition %d: lag %d after commit, want 0", p, l)
				}
			}

			out, err := exec.CommandContext(ctx, "kcat", "-C", "-b", strings.Join(kc.Brokers, ","), "-t", topic,
				"-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+kc.TLS.CAFile, "-X", "sasl.mechanisms=PLAIN",
				"-X", "sasl.username="+kc.SASL.Username, "-X", "sasl.password="+string(kc.SASL.Password),
				"-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").Output()
			if err != nil {
				t.Fatalf("kcat over SASL_SSL: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != n {
				t.Fatalf("kcat read %d records, want %d", len(lines), n)
			}
			for _, l := range lines {
				k, v, _ := strings.Cut(l, "\t")
				if want[k] != v {
					t.Fatalf("kcat record %s = %q, want %q", k, v, want[k])
				}
			}
		})
	}
}

// failsFast runs what the services run at start-up (EnsureTopics inside a retrying wait that
// stops at kafkax.StopOnAuthError) and returns its error and how long it took.
func failsFast(t *testing.T, kc kafkax.Config) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err := retry.Do(ctx, retry.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second}, func(ctx context.Context) error {
		return kafkax.StopOnAuthError(kc.EnsureTopics(ctx, testenv.Name(t, "never")))
	}, nil)
	return time.Since(start), err
}

// TestSecureWrongPasswordFailsFast: a refused password ends the start-up wait at once, with an
// error naming the broker and the mechanism, for every mechanism.
func TestSecureWrongPasswordFailsFast(t *testing.T) {
	base := testenv.SecureKafka(t)
	for _, mech := range []string{kafkax.MechanismScramSHA512, kafkax.MechanismScramSHA256, kafkax.MechanismPlain} {
		t.Run(mech, func(t *testing.T) {
			kc := base
			kc.SASL.Mechanism, kc.SASL.Password = mech, config.Secret("not-"+string(base.SASL.Password))
			if err := kc.Validate(); err != nil {
				t.Fatal(err)
			}
			took, err := failsFast(t, kc)
			if err == nil {
				t.Fatal("a wrong password was accepted")
			}
			if !kafkax.IsAuthError(err) || took > 5*time.Second {
				t.Fatalf("after %v: %v (auth error: %v); want an auth error within 5s", took, err, kafkax.IsAuthError(err))
			}
			for _, want := range []string{"kafka " + kc.Brokers[0], "SASL " + mech + " authentication failed"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not name %q", err, want)
				}
			}
			if strings.Contains(err.Error(), string(kc.SASL.Password)) {
				t.Fatalf("error %q shows the password", err)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// TestSecureUntrustedCAFailsFast: a CA that did not sign the broker certificate (a fresh one made
// here) ends the start-up wait at once, with an error naming the broker, TLS and the cause.
func TestSecureUntrustedCAFailsFast(t *testing.T) {
	kc := testenv.SecureKafka(t)
	kc.TLS.CAFile = testenv.UntrustedCA(t)
	if err := kc.Validate(); err != nil {
		t.Fatal(err)
	}
	took, err := failsFast(t, kc)
	if err == nil {
		t.Fatal("a broker certificate from another CA was trusted")
	}
	if !kafkax.IsAuthError(err) || took > 5*time.Second {
		t.Fatalf("after %v: %v; want an auth error within 5s", took, err)
	}
	for _, want := range []string{"kafka " + kc.Brokers[0], "TLS", "certificate signed by unknown authority", "--kafka-ca-file"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)

	// Ping, behind /readyz, says the same.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kc.Ping(ctx); !kafkax.IsAuthError(err) {
		t.Fatalf("Ping: %v, want the TLS auth error", err)
	}
}
