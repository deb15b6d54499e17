package kafkax

// Record-size limits. They are defined here, once, because one number decides what Kafka takes
// (the broker's message.max.bytes) and every other size a stage checks is derived from it, or is
// deliberately not about Kafka at all. From the largest to the smallest Kafka-bound one:
//
//	broker message.max.bytes  1,048,588  Kafka's default (1 MiB + 12); production brokers keep it
//	MaxMessageBytes           1,000,000  the largest record batch a writer sends
//	MaxRecordValueBytes         998,976  MaxMessageBytes - RecordOverheadBytes: the largest value
//	                                     a stage produces (an article, an enriched article)
//	MaxArticleBodyBytes         921,600  900 KiB: the highest --max-body-bytes ingest accepts
//
// and, not a Kafka limit:
//
//	MaxFileRecordBytes       67,108,864  64 MiB: the largest record a file reader holds
//
// A value between MaxRecordValueBytes and MaxFileRecordBytes can be read from a file but never
// written to Kafka: the stage that would write it refuses it per item (ingest with a 400 or a
// file:line rejection, enrich by trimming it or dead-lettering it).

// MaxMessageBytes is the largest record batch a writer sends (kafka-go's Writer.BatchBytes):
// just under the broker's default message.max.bytes (1 MiB + 12 bytes of overhead), so that no
// broker left at its defaults refuses a batch. It is also the largest single record: a record
// larger than this can never be written and must be refused or dead-lettered by its stage.
const MaxMessageBytes = 1_000_000

// RecordOverheadBytes is the room a record needs in a batch besides its value: the key (a
// 32-character article id), the headers a stage copies or adds, and kafka-go's framing (lengths,
// varints, timestamps: 22 bytes a record, 61 for the batch header). 1 KiB covers all of them with
// room to spare; DeadLetter, whose keys and headers can be longer, subtracts those as well.
const RecordOverheadBytes = 1024

// MaxRecordValueBytes is the largest value a stage produces, so that the record, with its key,
// headers and framing, fits in MaxMessageBytes: ingest checks every encoded article against it
// (publish.MaxRecordBytes) and enrich trims an enriched article to it.
const MaxRecordValueBytes = MaxMessageBytes - RecordOverheadBytes

// MaxArticleBodyBytes is the highest body limit (--max-body-bytes) ingest accepts: 900 KiB of
// body leaves 77 KB of the record for the title (at most a few KiB), the other fields and the
// JSON around them. It is not a guarantee: JSON escaping can make a body within it a record over
// MaxRecordValueBytes (a body of quotes doubles), which is why ingest still measures every
// encoded record against MaxRecordValueBytes.
const MaxArticleBodyBytes = 900 << 10

// MaxFileRecordBytes caps one record a file reader holds in memory: one JSON line or one
// plain-text article of `enrich extract` and the demo (pkg/articleio). It is far above
// MaxMessageBytes on purpose: extract works without Kafka, on articles of any length (its output
// is not a record), and the cap only keeps a runaway line (a file that is not JSON Lines at all)
// from taking the machine's memory. `ingest import` reads with its own, lower limit, the HTTP
// API's --max-request-bytes (8 MiB by default), because what it reads is published: no one of
// its articles may be larger than MaxRecordValueBytes.
const MaxFileRecordBytes = 64 << 20
