// Package bulk builds _bulk request bodies and judges their answers, item by item, without I/O.
// It exists because the failures the index stage must not repeat (offsets committed before the
// engine had the data, item-level 429s dropped) are decided here: every item of every answer is
// classified as done, to be retried, or rejected for good.
package bulk

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Op is one "index" operation: write Source as document ID of Index, replacing any earlier
// version, so that redelivered messages leave one document (idempotent).
type Op struct {
	Index  string
	ID     string
	Source []byte // the document, JSON without newlines (encoding/json never emits raw newlines)
}

// Size is about the number of bytes the op adds to a bulk body (exact unless the index or id
// need JSON escaping); chunking only needs it roughly.
func (o Op) Size() int { return len(o.Index) + len(o.ID) + len(o.Source) + 48 }

// Append writes the op's action and source lines to buf.
func Append(buf []byte, o Op) []byte {
	buf = append(buf, `{"index":{"_index":`...)
	buf = appendJSONString(buf, o.Index)
	buf = append(buf, `,"_id":`...)
	buf = appendJSONString(buf, o.ID)
	buf = append(buf, "}}\n"...)
	buf = append(buf, o.Source...)
	return append(buf, '\n')
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(buf, b...)
}

// Body is the _bulk body of ops.
func Body(ops []Op) []byte {
	n := 0
	for _, o := range ops {
		n += o.Size()
	}
	buf := make([]byte, 0, n)
	for _, o := range ops {
		buf = Append(buf, o)
	}
	return buf
}

// Chunks splits ops into consecutive groups whose bodies stay under maxBytes (an op larger than
// maxBytes travels alone), so no single request grows past what the engine accepts
// (http.max_content_length, 100 MB by default) or what we want in memory at once.
func Chunks(ops []Op, maxBytes int) [][]Op {
	var out [][]Op
	start, size := 0, 0
	for i, o := range ops {
		s := o.Size()
		if i > start && size+s > maxBytes {
			out = append(out, ops[start:i])
			start, size = i, 0
		}
		size += s
	}
	if start < len(ops) {
		out = append(out, ops[start:])
	}
	return out
}

// Class is the verdict on one item or one whole request.
type Class int

// The verdicts. Retry covers everything that may succeed later (overload, unavailable shards,
// connection failures); Reject only what never will (the document itself is wrong).
const (
	OK Class = iota
	Retry
	Reject
)

// String names the verdict in logs.
func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case Retry:
		return "retry"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// retryableTypes are error types that come with a 4xx status but are about the cluster, not the
// document: a read-only block after a full disk, an index removed under us (it is created again),
// a circuit breaker. Dead-lettering them would turn an outage into data loss.
var retryableTypes = map[string]bool{
	"cluster_block_exception":                 true,
	"index_not_found_exception":               true,
	"circuit_breaking_exception":              true,
	"es_rejected_execution_exception":         true,
	"opensearch_rejected_execution_exception": true,
	"unavailable_shards_exception":            true,
	"process_cluster_event_timeout_exception": true,
	"no_shard_available_action_exception":     true,
	"timeout_exception":                       true,
}

// ClassifyItem judges one item by its status and error type: 2xx done; 429, 5xx and
// cluster-side error types retried; any other 4xx (mapper_parsing_exception,
// strict_dynamic_mapping_exception, illegal_argument_exception, …) rejected for good.
func ClassifyItem(status int, errType string) Class {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status == 429 || status >= 500 || status == 0:
		return Retry
	case retryableTypes[errType]:
		return Retry
	case status >= 400:
		return Reject
	}
	return Retry // 1xx/3xx: nothing sensible; try again rather than drop
}

// ClassifyRequest judges a whole _bulk answer's HTTP status. Only 2xx means the items were
// processed; everything else (429, 5xx, and also 401/403/404 from a misconfigured proxy or
// engine) is retried, because failing the whole batch into the dead-letter topic for an
// operational problem would lose data. 413 is split by the caller.
func ClassifyRequest(status int) Class {
	if status >= 200 && status < 300 {
		return OK
	}
	return Retry
}

// Result is the engine's answer for one item.
type Result struct {
	Status int
	Type   string // error type, e.g. mapper_parsing_exception
	Reason string // human-readable error, with its cause
	Class  Class
}

type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

type response struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]json.RawMessage `json:"items"`
}

type item struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
}

// Parse reads a 2xx _bulk answer for n items, in request order. An answer that cannot be read or
// does not list exactly n items is an error: the caller retries the whole request (index by _id
// makes that safe).
func Parse(body []byte, n int) ([]Result, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding bulk answer: %w", err)
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("bulk answer lists %d items, want %d", len(r.Items), n)
	}
	out := make([]Result, n)
	for i, m := range r.Items {
		var it item
		for _, raw := range m { // one key: the op name ("index")
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("decoding bulk item %d: %w", i, err)
			}
		}
		res := Result{Status: it.Status}
		if it.Error != nil {
			res.Type = it.Error.Type
			res.Reason = reason(it.Error)
		}
		res.Class = ClassifyItem(res.Status, res.Type)
		out[i] = res
	}
	return out, nil
}

func reason(e *itemError) string {
	var b strings.Builder
	for depth := 0; e != nil && depth < 4; depth++ {
		if depth > 0 {
			b.WriteString(" (caused by ")
		}
		b.WriteString(e.Type)
		if e.Reason != "" {
			b.WriteString(": ")
			b.WriteString(e.Reason)
		}
		e = e.CausedBy
	}
	for i := strings.Count(b.String(), " (caused by "); i > 0; i-- {
		b.WriteString(")")
	}
	return b.String()
}
