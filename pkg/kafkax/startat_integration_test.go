package kafkax_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestStartGroupAt: a new group started at a time reads exactly the records from that time on,
// a group with commits is left alone, and a time after every record starts at the end.
func TestStartGroupAt(t *testing.T) {
	kc := testenv.Kafka(t)
	topic := testenv.Name(t, "startat")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := kc.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	w := kc.NewWriter(topic)
	defer w.Close()
	var msgs []kafka.Message
	for i := 0; i < 100; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("id-%03d", i)), Value: []byte("v"), Time: base.Add(time.Duration(i) * time.Minute)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	group := testenv.Name(t, "from-60")
	started, offsets, err := kc.StartGroupAt(ctx, group, topic, base.Add(60*time.Minute))
	if err != nil || !started {
		t.Fatalf("StartGroupAt: started %v, %v", started, err)
	}
	var total int64
	lag, err := kc.Lag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lag {
		total += l
	}
	if total != 40 {
		t.Fatalf("lag after starting at minute 60: %d (offsets %v), want 40", total, offsets)
	}
	got := consumeAll(ctx, t, kc, group, topic, 40, 50)
	for k := range got {
		if k < "id-060" {
			t.Fatalf("read %s, written before the start time", k)
		}
	}
	if started, _, err := kc.StartGroupAt(ctx, group, topic, base); err != nil || started {
		t.Fatalf("StartGroupAt on a group with commits: started %v, %v; want it left alone", started, err)
	}

	late := testenv.Name(t, "after-all")
	if started, _, err := kc.StartGroupAt(ctx, late, topic, time.Now().Add(time.Hour)); err != nil || !started {
		t.Fatalf("StartGroupAt after every record: started %v, %v", started, err)
	}
	if lag, err := kc.Lag(ctx, late, topic); err != nil {
		t.Fatal(err)
	} else {
		for p, l := range lag {
			if l != 0 {
				t.Fatalf("partition %d: lag %d after starting past every record, want 0", p, l)
			}
		}
	}
}
