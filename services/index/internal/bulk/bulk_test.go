package bulk_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/services/index/internal/bulk"
)

func TestBody(t *testing.T) {
	ops := []bulk.Op{{Index: "a-2019.08", ID: `id "1"`, Source: []byte(`{"x":1}`)}, {Index: "a-2019.09", ID: "2", Source: []byte(`{}`)}}
	body := string(bulk.Body(ops))
	want := `{"index":{"_index":"a-2019.08","_id":"id \"1\""}}` + "\n" + `{"x":1}` + "\n" +
		`{"index":{"_index":"a-2019.09","_id":"2"}}` + "\n{}\n"
	if body != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %q is not JSON", l)
		}
	}
	total := 0
	for _, o := range ops {
		total += o.Size()
	}
	if total < len(body) {
		t.Errorf("Size underestimates: %d < %d", total, len(body))
	}
}

func TestChunks(t *testing.T) {
	op := func(n int) bulk.Op { return bulk.Op{Index: "i", ID: "d", Source: make([]byte, n)} } // Size = n+50
	tests := []struct {
		name  string
		sizes []int
		max   int
		want  []int
	}{
		{"empty", nil, 100, nil},
		{"one chunk", []int{10, 10}, 1000, []int{2}},
		{"split", []int{50, 50, 50}, 200, []int{2, 1}},
		{"oversized op alone", []int{10, 500, 10}, 100, []int{1, 1, 1}},
		{"exact fit", []int{50, 50}, 200, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ops []bulk.Op
			for _, s := range tc.sizes {
				ops = append(ops, op(s))
			}
			var got []int
			for _, c := range bulk.Chunks(ops, tc.max) {
				got = append(got, len(c))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("chunks %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("chunks %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestClassifyItem(t *testing.T) {
	tests := []struct {
		status  int
		errType string
		want    bulk.Class
	}{
		{200, "", bulk.OK},
		{201, "", bulk.OK},
		{429, "es_rejected_execution_exception", bulk.Retry},
		{429, "opensearch_rejected_execution_exception", bulk.Retry},
		{500, "", bulk.Retry},
		{503, "unavailable_shards_exception", bulk.Retry},
		{400, "mapper_parsing_exception", bulk.Reject},
		{400, "strict_dynamic_mapping_exception", bulk.Reject},
		{400, "illegal_argument_exception", bulk.Reject},
		{400, "document_parsing_exception", bulk.Reject},
		// external versioning: the engine holds this version or a newer one; done
		{409, "version_conflict_engine_exception", bulk.Superseded},
		{409, "something_else", bulk.Reject},
		{403, "cluster_block_exception", bulk.Retry},
		{404, "index_not_found_exception", bulk.Retry},
		{0, "", bulk.Retry},
	}
	for _, tc := range tests {
		if got := bulk.ClassifyItem(tc.status, tc.errType); got != tc.want {
			t.Errorf("ClassifyItem(%d, %q) = %v, want %v", tc.status, tc.errType, got, tc.want)
		}
	}
	for status, want := range map[int]bulk.Class{200: bulk.OK, 429: bulk.Retry, 502: bulk.Retry, 503: bulk.Retry, 401: bulk.Retry, 404: bulk.Retry} {
		if got := bulk.ClassifyRequest(status); got != want {
			t.Errorf("ClassifyRequest(%d) = %v, want %v", status, got, want)
		}
	}
}

// TestVersionedBody: a versioned op asks for external versioning in its action line.
func TestVersionedBody(t *testing.T) {
	o := bulk.Op{Index: "a-2019.08", ID: "1", Version: 1566374401000000, Source: []byte(`{}`)}
	body := string(bulk.Body([]bulk.Op{o}))
	want := `{"index":{"_index":"a-2019.08","_id":"1","version":1566374401000000,"version_type":"external"}}` + "\n{}\n"
	if body != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	if o.Size() < len(body) {
		t.Errorf("Size underestimates: %d < %d", o.Size(), len(body))
	}
}

func TestClassifyIndexCreation(t *testing.T) {
	tests := []struct {
		status  int
		errType string
		want    bulk.Class
	}{
		{400, "resource_already_exists_exception", bulk.OK},
		{400, "validation_exception", bulk.Reject}, // maximum shards open
		{400, "invalid_index_name_exception", bulk.Reject},
		{400, "illegal_argument_exception", bulk.Reject},
		{409, "version_conflict_engine_exception", bulk.Retry}, // not an answer to PUT /<index>: nothing to remember
		{400, "", bulk.Retry},                                  // an HTML page from a proxy
		{403, "", bulk.Retry},                                  // an IAM proxy's {"message":…}
		{404, "", bulk.Retry},                                  // a wrong path or proxy
		{408, "", bulk.Retry},                                  // a proxy's timeout
		{0, "", bulk.Retry},                                    // connection failure
		{500, "", bulk.Retry},
		{503, "master_not_discovered_exception", bulk.Retry},
		{429, "es_rejected_execution_exception", bulk.Retry},
		{401, "security_exception", bulk.Retry},
		{401, "", bulk.Retry}, // from a proxy
		{403, "security_exception", bulk.Retry},
		{403, "cluster_block_exception", bulk.Retry},
		{408, "process_cluster_event_timeout_exception", bulk.Retry},
	}
	for _, tc := range tests {
		if got := bulk.ClassifyIndexCreation(tc.status, tc.errType); got != tc.want {
			t.Errorf("ClassifyIndexCreation(%d, %q) = %v, want %v", tc.status, tc.errType, got, tc.want)
		}
	}
}

func TestParseError(t *testing.T) {
	typ, reason := bulk.ParseError(`{"error":{"root_cause":[{"type":"validation_exception","reason":"r"}],"type":"validation_exception","reason":"Validation Failed: 1: this action would add [1] total shards, but this cluster currently has [30]/[30] maximum shards open;"},"status":400}`)
	if typ != "validation_exception" || reason != "validation_exception: Validation Failed: 1: this action would add [1] total shards, but this cluster currently has [30]/[30] maximum shards open;" {
		t.Errorf("ParseError = %q, %q", typ, reason)
	}
	for _, body := range []string{`<html>bad gateway</html>`, `{"error":"a string"}`, ``, `{}`} {
		if typ, reason := bulk.ParseError(body); typ != "" || reason != "" {
			t.Errorf("ParseError(%q) = %q, %q; want empty", body, typ, reason)
		}
	}
}

func TestParse(t *testing.T) {
	answer := `{"took":3,"errors":true,"items":[
	 {"index":{"_index":"a","_id":"1","status":201}},
	 {"index":{"_index":"a","_id":"2","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
	 {"index":{"_index":"a","_id":"3","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [date_mentions]",
	   "caused_by":{"type":"illegal_argument_exception","reason":"failed to parse date field [x]"}}}},
	 {"index":{"_index":"a","_id":"4","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
	 {"index":{"_index":"a","_id":"5","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[5]: version conflict, current version [1566374402000000] is higher or equal to the one provided [1566374401000000]"}}}]}`
	res, err := bulk.Parse([]byte(answer), 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []bulk.Class{bulk.OK, bulk.Retry, bulk.Reject, bulk.Retry, bulk.Superseded}
	for i, r := range res {
		if r.Class != want[i] {
			t.Errorf("item %d: %v, want %v", i, r.Class, want[i])
		}
	}
	if r := res[2].Reason; r != "mapper_parsing_exception: failed to parse field [date_mentions] (caused by illegal_argument_exception: failed to parse date field [x])" {
		t.Errorf("reason %q", r)
	}
	if _, err := bulk.Parse([]byte(answer), 6); err == nil {
		t.Error("an answer with too few items was accepted")
	}
	if _, err := bulk.Parse([]byte(`<html>`), 1); err == nil {
		t.Error("an unreadable answer was accepted")
	}
}
