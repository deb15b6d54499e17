package document

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
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

// enrichedRecords are records as enrich writes them (article.AppendEnrichedJSON), which the
// fast path must take: every field set, text that needs escapes, and the empty cases.
func enrichedRecords(t testing.TB) [][]byte {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	full := article.Enriched{
		Article: article.Article{ID: "6f1c", Source: "reuters", URL: "https://example.com/a?b=1", Title: "Fed \"raises\" rates <b>&</b>",
			Body: "WASHINGTON -\tThe Fed\nsaid \u00e9t\u00e9 \u2028 \x7f on Monday.\n", Authors: []string{"A. Writer", "B"}, Language: "en",
			PublishedAt: at("1987-03-02T10:00:00Z"), IngestedAt: at("2026-12-01T10:00:00.123456Z")},
		EnrichedAt: at("2026-12-01T10:00:01.5+01:00"), EnrichmentVersion: "newsflow-enrich/6",
		Entities: []article.Entity{{Name: "Fed", Type: "ORG", Mentions: []article.Mention{{Field: "body", Start: 14, End: 17}}},
			{Name: "Washington", Type: "LOC"}, {Name: "Ḩamāh", Type: "odd"}},
		Dates: []article.DateMention{{Text: "Monday", Field: "body", Start: 30, End: 36, Value: "1987-03-02", Granularity: "day", GTE: "1987-03-02", LTE: "1987-03-02", Relative: true},
			{Text: "now", Field: "title", Value: "PRESENT_REF", Granularity: "ref"}},
		Places:         []article.Place{{Entity: "Washington", Name: "Washington, D.C.", Kind: "city", Country: "US", Lat: 38.89511, Lon: -77.03637}, {Entity: "Europe", Name: "Europe", Kind: "continent", Lat: 48.69, Lon: 9.14}},
		Similarity:     &article.Similarity{Signature: "AAEC/w==", NearBands: []string{"9ILIOh1Z3aU", "ePD-GAzvcPI"}, StoryBands: []string{"x4WquG5aREo"}},
		EnrichmentNote: "mentions cut",
	}
	bare := article.Enriched{Article: article.Article{ID: "bare", Title: "t", Body: "b", PublishedAt: at("2020-01-01T00:00:00Z")}}
	empty := bare
	empty.ID, empty.Entities, empty.Dates = "empty", []article.Entity{}, []article.DateMention{}
	empty.Similarity = &article.Similarity{NearBands: []string{}, StoryBands: nil}
	var out [][]byte
	for _, e := range []article.Enriched{full, bare, empty} {
		b, err := article.AppendEnrichedJSON(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFastPathTakesWhatEnrichWrites: the records enrich writes go through the fast path (or
// it would be there for nothing), with encoding/json's result.
func TestFastPathTakesWhatEnrichWrites(t *testing.T) {
	for _, rec := range enrichedRecords(t) {
		if _, ok := decodeFast(rec); !ok {
			t.Fatalf("the fast path declined %s", rec)
		}
		checkAgreement(t, rec)
	}
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
	for _, rec := range enrichedRecords(f) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgreement(t, b) })
}

func checkAgreement(t *testing.T, value []byte) {
	t.Helper()
	want, werr := decodeStdlib(value)
	if fast, ok := decodeFast(value); ok && (werr != nil || !reflect.DeepEqual(want, fast)) {
		t.Fatalf("%q: the fast path took it, as %+v; encoding/json gives %+v, %v", value, fast, want, werr)
	}
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
