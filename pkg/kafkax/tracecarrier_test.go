package kafkax

import (
	"reflect"
	"testing"

	"github.com/segmentio/kafka-go"
)

// TestHeaderCarrier: Set replaces the header of the same key (a stage continuing a trace must
// not send two traceparents) and appends a missing one; Get and Keys read what is there.
func TestHeaderCarrier(t *testing.T) {
	hs := []kafka.Header{{Key: "other", Value: []byte("x")}, {Key: HeaderTraceparent, Value: []byte("old")}}
	c := HeaderCarrier{Headers: &hs}
	if got := c.Get(HeaderTraceparent); got != "old" {
		t.Fatalf("Get = %q, want old", got)
	}
	c.Set(HeaderTraceparent, "new")
	c.Set(HeaderTracestate, "k=v")
	want := []kafka.Header{{Key: "other", Value: []byte("x")}, {Key: HeaderTraceparent, Value: []byte("new")}, {Key: HeaderTracestate, Value: []byte("k=v")}}
	if !reflect.DeepEqual(hs, want) {
		t.Errorf("headers after Set: %q, want %q", hs, want)
	}
	if got := c.Keys(); !reflect.DeepEqual(got, []string{"other", HeaderTraceparent, HeaderTracestate}) {
		t.Errorf("Keys = %q", got)
	}
	var none []kafka.Header
	if got := (HeaderCarrier{Headers: &none}).Get(HeaderTraceparent); got != "" {
		t.Errorf("Get on no headers = %q", got)
	}
}

// TestDeadLetterKeepsTraceContext: a dead letter carries the trace context of the record it
// stands for, so the article's trace can be followed to the dead-letter topic; other headers of
// the original are not copied (the dead letter has its own).
func TestDeadLetterKeepsTraceContext(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	orig := kafka.Message{Topic: "articles.raw", Key: []byte("k"), Value: []byte("{"), Headers: []kafka.Header{
		{Key: "x-other", Value: []byte("1")},
		{Key: HeaderTraceparent, Value: []byte(tp)},
		{Key: HeaderTracestate, Value: []byte("vendor=1")},
	}}
	dl := DeadLetter(orig, "enrich", "bad")
	if got := Header(dl, HeaderTraceparent); got != tp {
		t.Errorf("traceparent = %q, want %q", got, tp)
	}
	if got := Header(dl, HeaderTracestate); got != "vendor=1" {
		t.Errorf("tracestate = %q", got)
	}
	if Header(dl, "x-other") != "" {
		t.Error("an unrelated header of the original was copied")
	}
	if Header(dl, HeaderStage) != "enrich" {
		t.Errorf("stage = %q", Header(dl, HeaderStage))
	}
}

// TestDeadLetterOfHostileTraceHeaders: a record of the largest size whose writer added a huge
// tracestate and repeated traceparents still makes a dead letter within the record limit (it
// panicked: the value's room went negative), keeping the first sensible traceparent only; and
// Get reads an oversized trace header as absent, so it is never parsed.
func TestDeadLetterOfHostileTraceHeaders(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	big := make([]byte, 999_000)
	for i := range big {
		big[i] = 'a'
	}
	orig := kafka.Message{Topic: "articles.raw", Key: []byte("k"), Value: make([]byte, MaxMessageBytes/2), Headers: []kafka.Header{
		{Key: HeaderTracestate, Value: big},
		{Key: HeaderTraceparent, Value: []byte(tp)},
		{Key: HeaderTraceparent, Value: []byte("00-second")},
		{Key: HeaderTracestate, Value: []byte("vendor=1")},
	}}
	dl := DeadLetter(orig, "enrich", "bad")
	if n := len(dl.Key) + len(dl.Value) + headersSize(dl.Headers); n > MaxMessageBytes-RecordOverheadBytes {
		t.Fatalf("dead letter is %d bytes, over the limit %d", n, MaxMessageBytes-RecordOverheadBytes)
	}
	var tps, tss []string
	for _, h := range dl.Headers {
		switch h.Key {
		case HeaderTraceparent:
			tps = append(tps, string(h.Value))
		case HeaderTracestate:
			tss = append(tss, string(h.Value))
		}
	}
	if !reflect.DeepEqual(tps, []string{tp}) || !reflect.DeepEqual(tss, []string{"vendor=1"}) {
		t.Errorf("dead letter trace headers: traceparent %q, tracestate %q; want the first of a sensible size of each", tps, tss)
	}
	c := HeaderCarrier{Headers: &orig.Headers}
	if got := c.Get(HeaderTracestate); got != "" {
		t.Errorf("Get(tracestate) of a %d-byte header = %d bytes, want it read as absent", len(big), len(got))
	}
	if got := WithoutTraceContext(orig.Headers); len(got) != 0 {
		t.Errorf("WithoutTraceContext kept %d headers", len(got))
	}
}
