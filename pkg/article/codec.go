package article

import (
	"bytes"
	"encoding/json"
	"io"
)

// Marshal encodes v (an Article or an Enriched) as the value of a Kafka record: JSON without
// HTML escaping, so that '<', '>' and '&' of news text stay one byte each instead of six, and
// without a trailing newline. Every stage that sizes or writes records uses it, so that what
// ingest measured to fit still fits when enrich re-encodes it.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := Encode(&buf, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Encode writes v to w as Marshal encodes it, followed by a newline (json.Encoder's form).
func Encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
