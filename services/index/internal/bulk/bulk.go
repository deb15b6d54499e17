// Package bulk builds _bulk request bodies and judges their answers, item by item, without I/O.
// It exists because the failures the index stage must not repeat (offsets committed before the
// engine had the data, item-level 429s dropped) are decided here: every item of every answer is
// classified as done, to be retried, or rejected for good.
package bulk

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Op is one "index" operation: write Source as document ID of Index, so that redelivered
// messages leave one document (idempotent).
//
// With a Version the write uses external versioning: the engine keeps the document only if
// Version is greater than the one it holds, and answers 409 version_conflict_engine_exception
// otherwise (Superseded). That is what keeps a newer copy of an article from being overwritten
// by an older one still in flight elsewhere, e.g. at a consumer that lost its partition in a
// rebalance. Version 0 writes unconditionally, replacing any earlier version.
type Op struct {
	Index   string
	ID      string
	Version int64
	Source  []byte // the document, JSON without newlines (encoding/json never emits raw newlines)
}

// Size is about the number of bytes the op adds to a bulk body (exact unless the index or id
// need JSON escaping); chunking only needs it roughly.
func (o Op) Size() int {
	n := len(o.Index) + len(o.ID) + len(o.Source) + 48
	if o.Version > 0 {
		n += 56 // ,"version":<19 digits>,"version_type":"external"
	}
	return n
}

// Append writes the op's action and source lines to buf.
func Append(buf []byte, o Op) []byte {
	buf = append(buf, `{"index":{"_index":`...)
	buf = appendJSONString(buf, o.Index)
	buf = append(buf, `,"_id":`...)
	buf = appendJSONString(buf, o.ID)
	if o.Version > 0 {
		buf = append(buf, `,"version":`...)
		buf = strconv.AppendInt(buf, o.Version, 10)
		buf = append(buf, `,"version_type":"external"`...)
	}
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
// connection failures); Reject only what never will (the document itself is wrong). Superseded
// is done too: the engine already holds this version of the document or a newer one (an
// external-version conflict), so there is nothing to retry and nothing to dead-letter.
const (
	OK Class = iota
	Retry
	Reject
	Superseded
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
	case Superseded:
		return "superseded"
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

// ClassifyItem judges one item by its status and error type: 2xx done; 409
// version_conflict_engine_exception superseded (a newer or the same version is in the index);
// 429, 5xx and cluster-side error types retried; any other 4xx (mapper_parsing_exception,
// strict_dynamic_mapping_exception, illegal_argument_exception, …) rejected for good.
func ClassifyItem(status int, errType string) Class {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status == 409 && errType == "version_conflict_engine_exception":
		return Superseded
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

// ClassifyIndexCreation judges the engine's answer to creating an index (PUT /<index>): an
// index that already exists is done; a 400 in which the engine names an error type (other than
// the cluster-side types of ClassifyItem) is a refusal that will not change by itself, such as
// validation_exception "maximum shards open" or invalid_index_name_exception. The caller gives a refusal a bounded number of attempts (a
// shard limit may be raised meanwhile) and then dead-letters the documents meant for the index.
func ClassifyIndexCreation(status int, errType string) Class {
	switch {
	case status == 400 && errType == "resource_already_exists_exception":
		return OK
	case status == 400 && errType != "":
		// The engine itself refused (it names the error type). Cluster-side types stay retryable.
		if ClassifyItem(status, errType) == Retry {
			return Retry
		}
		return Reject
	}
	// Anything else can mend by itself or is not about this index: 401/403 (credentials, an IAM
	// proxy's {"message":…}), 404/408 or an HTML page from a proxy, 409, 429, 5xx, no answer.
	// Remembering those as refusals would dead-letter every document of every new index.
	return Retry
}

// ParseError reads the error type and reason (with its causes) from an engine's error answer,
// {"error":{"type":…,"reason":…,"caused_by":…},"status":…}; both are empty when body is not one.
func ParseError(body string) (errType, reason string) {
	var r struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal([]byte(body), &r) != nil || len(r.Error) == 0 {
		return "", ""
	}
	var e itemError
	if json.Unmarshal(r.Error, &e) != nil { // "error": "a string", from some proxies
		return "", ""
	}
	return e.Type, reasonOf(&e)
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
			res.Reason = reasonOf(it.Error)
		}
		res.Class = ClassifyItem(res.Status, res.Type)
		out[i] = res
	}
	return out, nil
}

func reasonOf(e *itemError) string {
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
