package kafkax

import "testing"

// TestRecordLimitsNest: the record-size limits keep the order their doc comment gives, so that a
// change to one cannot quietly let a value through that the broker or the writer refuses.
func TestRecordLimitsNest(t *testing.T) {
	const brokerDefault = 1<<20 + 12 // Kafka's default message.max.bytes
	for _, c := range []struct {
		name         string
		small, large int
	}{
		{"MaxMessageBytes < broker message.max.bytes", MaxMessageBytes, brokerDefault},
		{"MaxRecordValueBytes + RecordOverheadBytes <= MaxMessageBytes", MaxRecordValueBytes + RecordOverheadBytes, MaxMessageBytes},
		{"MaxArticleBodyBytes < MaxRecordValueBytes", MaxArticleBodyBytes, MaxRecordValueBytes},
		{"MaxMessageBytes < MaxFileRecordBytes", MaxMessageBytes, MaxFileRecordBytes},
	} {
		if c.small > c.large {
			t.Errorf("%s: %d > %d", c.name, c.small, c.large)
		}
	}
	if MaxMessageBytes != 1_000_000 || MaxRecordValueBytes != 998_976 || MaxArticleBodyBytes != 921_600 || MaxFileRecordBytes != 64<<20 {
		t.Errorf("limits changed: %d %d %d %d; behaviour depends on them (see limits.go)", MaxMessageBytes, MaxRecordValueBytes, MaxArticleBodyBytes, MaxFileRecordBytes)
	}
}
