package document

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decodeStdlib is Decode as it was with encoding/json: the reference the faster decoder is held to.
func decodeStdlib(value []byte) (wireEnriched, error) {
	var w wireEnriched
	err := json.Unmarshal(value, &w)
	return w, err
}

// agreementSeeds are records the index meets: what enrich writes (entities with mentions that
// are skipped, dates, a trimmed note), and what another producer might write.
var agreementSeeds = []string{
	`{"id":"a1","source":"reuters","url":"http://x/1","title":"Fed raises rates","body":"WASHINGTON - The Fed...","authors":["A. Writer"],"language":"en","published_at":"1987-03-02T10:00:00Z","ingested_at":"2026-12-01T10:00:00.123456Z","enriched_at":"2026-12-01T10:00:01Z","enrichment_version":"ner-2","entities":[{"name":"Fed","type":"ORG","mentions":[{"start":0,"end":3,"text":"Fed"}]},{"name":"Washington","type":"LOC","mentions":[]}],"dates":[{"text":"Monday","value":"1987-03-02","gte":"1987-03-02","lte":"1987-03-02","granularity":"day"}],"enrichment_note":"mentions cut"}`,
	`{"ID":"upper","Title":"t","PUBLISHED_AT":"2020-01-01T00:00:00Z"}`,
	`{"id":"dup","id":"dup2","title":"t","published_at":"2020-01-01T00:00:00Z"}`,
	"{\"id\":\"utf\",\"title\":\"caf\xe9 \xff\",\"published_at\":\"2020-01-01T00:00:00Z\"}",
	`{"id":"esc","title":"\u00e9\ud800 \"q\" \\ \/","published_at":"2020-01-01T00:00:00+02:00"}`,
	`{"id":"nulls","title":null,"authors":null,"entities":null,"dates":[null],"published_at":"2020-01-01T00:00:00Z"}`,
	`{"id":"extra","unknown":{"deep":[1,2,{"x":null}]},"published_at":"2020-01-01T00:00:00.5Z","entities":[{"name":"X","type":"PER","extra":1}]}`,
	`{"id":"a","published_at":"yesterday"}`,
	`{"id":"a",`,
	`[1,2]`,
	`{"id":1}`,
	`{"id":"a","authors":"not a list","published_at":"2020-01-01T00:00:00Z"}`,
	`{"id":"a","published_at":"2020-01-01T00:00:00Z"} trailing`,
	`  {"id":"ws","published_at":"2020-01-01T00:00:00Z"}  `,
	`{"id":"geo","published_at":"2019-08-21T00:00:00Z","places":[{"entity":"Hama","name":"Ḩamāh","kind":"city","country":"SY","lat":35.1318,"lon":36.7578},{"entity":"X","lat":1e-7,"lon":-180},{"lat":35,"lon":3.6e1,"extra":true},null]}`,
	`{"id":"geo-bad","published_at":"2019-08-21T00:00:00Z","places":[{"name":"x","lat":"35","lon":36}]}`,
	`{"id":"geo-obj","published_at":"2019-08-21T00:00:00Z","places":{"name":"x"}}`,
}

// TestDecodeAgreesWithEncodingJSON: on every seed the decoder accepts what encoding/json accepts
// with the same result, and refuses what it refuses.
func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range agreementSeeds {
		checkAgreement(t, []byte(s))
	}
}

// FuzzDecode: the same, on whatever the fuzzer makes of the seeds (make test runs it briefly).
func FuzzDecode(f *testing.F) {
	for _, s := range agreementSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgreement(t, b) })
}

func checkAgreement(t *testing.T, value []byte) {
	t.Helper()
	want, werr := decodeStdlib(value)
	var got wireEnriched
	gerr := jsonUnmarshalV2(value, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json says %v, the decoder says %v", value, werr, gerr)
	}
	if werr != nil {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q decodes differently:\nencoding/json %+v\ndecoder       %+v", value, want, got)
	}
	// Decode's own checks follow the unmarshal; its error must still say what was wrong.
	if _, err := Decode(value); err != nil && !strings.Contains(err.Error(), "invalid enriched article") {
		t.Fatalf("%q: Decode error %v does not wrap ErrInvalid", value, err)
	}
}
