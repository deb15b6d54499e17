// Package importer reads archives of articles from files for `ingest import`: .txt in the seed
// shape, .json (an object or an array), .jsonl/.ndjson (one object a line), and directories of
// them, recursively. It publishes in acknowledged batches and keeps, for the summary, where every
// rejected item was (file:line) and why, so that a person can fix the file and run it again;
// re-running is harmless because ids are deterministic.
package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/articleio"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// Publisher writes a batch durably or not at all.
type Publisher interface {
	Publish(ctx context.Context, recs []publish.Record) error
}

// Options tune an import.
type Options struct {
	Meta         decode.TextMeta // source, published_at, language for .txt files
	Limits       normalize.Limits
	MaxFileBytes int64 // largest .txt or .json read whole, and longest .jsonl line
	BatchSize    int
	Now          func() time.Time
	// Metrics is where the import counts (app's metrics.go builds ingest's); nil counts into a
	// set on a private registry that nothing exposes (intake.PrivateMetrics).
	Metrics *intake.Metrics
	// Progress, if set, is called after every batch and file with the running totals.
	Progress func(Stats)
}

// Rejection locates one rejected item.
type Rejection struct {
	File   string
	Line   int
	Reason string
}

// String renders "file:line: reason" as compilers do, so editors can jump to it.
func (r Rejection) String() string {
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason)
	}
	return fmt.Sprintf("%s: %s", r.File, r.Reason)
}

// MaxRejections bounds the rejections kept for the summary; past it only the count grows.
const MaxRejections = 1000

// Stats are the running totals and the final summary.
type Stats struct {
	Files      int
	Skipped    int // files in directories with an extension import does not read
	Read       int
	Accepted   int
	Duplicates int // items superseded by a later copy of the same article (same id)
	Rejected   int
	Rejections []Rejection
	// Superseded locates the first MaxRejections duplicates: Reason names the later copy that
	// was written instead.
	Superseded []Rejection
}

// Supported reports whether import reads files with path's extension.
func Supported(path string) bool {
	_, ok := formatOf(path)
	return ok
}

func formatOf(path string) (articleio.Format, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt":
		return articleio.FormatText, true
	case ".json":
		return articleio.FormatJSON, true
	case ".jsonl", ".ndjson":
		return articleio.FormatJSONLines, true
	}
	return 0, false
}

type run struct {
	ctx     context.Context
	pub     Publisher
	opt     Options
	st      Stats
	seen    map[string]copyAt // article id -> its latest copy so far
	pending []publish.Record
	// again counts the pending articles whose id an earlier flush already wrote: a later copy
	// written over it, not a new article.
	again int
}

// copyAt is where the latest copy of an article was read, and where it waits to be written.
type copyAt struct {
	file    string
	line    int
	pending int // index in run.pending; -1 once flushed
}

func (c copyAt) String() string {
	if c.line > 0 {
		return fmt.Sprintf("%s:%d", c.file, c.line)
	}
	return c.file
}

// Import reads every path and publishes what is valid. It returns an error only when publishing
// failed (Kafka unavailable past the writer's retries); rejected items are in Stats.
func Import(ctx context.Context, paths []string, pub Publisher, opt Options) (Stats, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.MaxFileBytes <= 0 {
		opt.MaxFileBytes = 8 << 20
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Metrics == nil {
		opt.Metrics = intake.PrivateMetrics()
	}
	r := &run{ctx: ctx, pub: pub, opt: opt, seen: map[string]copyAt{}}
	for _, p := range paths {
		if err := r.path(p); err != nil {
			return r.st, err
		}
	}
	if err := r.flush(); err != nil {
		return r.st, err
	}
	r.progress()
	return r.st, nil
}

func (r *run) path(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		r.reject(p, 0, err.Error())
		return nil
	}
	if !info.IsDir() {
		return r.file(p, true)
	}
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			r.reject(path, 0, err.Error())
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !Supported(path) {
			r.st.Skipped++
			return nil
		}
		return r.file(path, false)
	})
}

func (r *run) file(path string, explicit bool) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	f, ok := formatOf(path)
	if !ok {
		if explicit {
			r.reject(path, 0, "unsupported file type: want .txt, .json, .jsonl or .ndjson")
		}
		return nil
	}
	r.st.Files++
	fh, err := os.Open(path)
	if err != nil {
		r.reject(path, 0, err.Error())
		return nil
	}
	defer fh.Close()
	if f == articleio.FormatJSONLines {
		err = r.lines(path, fh)
	} else {
		err = r.whole(path, f, fh)
	}
	if err != nil {
		return err
	}
	r.progress()
	return nil
}

// whole reads a .txt or .json file at once.
func (r *run) whole(path string, f articleio.Format, rd io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(rd, r.opt.MaxFileBytes+1))
	if err != nil {
		r.reject(path, 0, err.Error())
		return nil
	}
	if int64(len(data)) > r.opt.MaxFileBytes {
		r.reject(path, 0, fmt.Sprintf("larger than %d bytes (split it, or use .jsonl, which is read line by line)", r.opt.MaxFileBytes))
		return nil
	}
	items, err := decode.Decode(f, data, r.opt.Meta, 0)
	if err != nil {
		var me *decode.MalformedError
		if errors.As(err, &me) {
			r.reject(path, me.Line, me.Reason)
			return nil
		}
		r.reject(path, 0, err.Error())
		return nil
	}
	return r.items(path, items)
}

// lines reads a JSON Lines file a line at a time (articleio.ReadLine, capped at MaxFileBytes), so
// that archives of any size stream through.
func (r *run) lines(path string, rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 64<<10)
	var items []decode.Item
	line := 0
	for {
		l, err := articleio.ReadLine(br, r.opt.MaxFileBytes)
		if errors.Is(err, io.EOF) && len(l) == 0 {
			break
		}
		line++
		if errors.Is(err, articleio.ErrLineTooLong) {
			r.reject(path, line, fmt.Sprintf("line longer than %d bytes", r.opt.MaxFileBytes))
		} else if err != nil && !errors.Is(err, io.EOF) {
			r.reject(path, line, err.Error())
			break
		} else if len(bytes.TrimSpace(l)) > 0 {
			its, _ := decode.Decode(articleio.FormatJSONLines, l, decode.TextMeta{}, 0)
			for _, it := range its {
				// Index is the position in the batch, so that a duplicate's SupersededBy
				// finds the later line.
				it.Index, it.Line = len(items), line
				items = append(items, it)
			}
		}
		if len(items) >= r.opt.BatchSize {
			if err := r.items(path, items); err != nil {
				return err
			}
			items = items[:0]
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return r.items(path, items)
}

// items judges one batch and queues what is valid. The later copy of an article wins, within the
// batch (intake.Prepare) and across batches: a copy still queued is replaced in place, and a copy
// an earlier flush already wrote is written again (the later record is the one the index keeps).
// Either way the earlier copy counts as a duplicate, so that Accepted counts distinct articles.
func (r *run) items(path string, items []decode.Item) error {
	if len(items) == 0 {
		return nil
	}
	b := intake.Prepare(items, r.opt.Now(), r.opt.Limits)
	r.opt.Metrics.Judged(intake.ChannelFile, &b)
	r.st.Read += len(items)
	lineOf := make(map[int]int, len(b.Results)) // item index -> line
	for _, res := range b.Results {
		lineOf[res.Index] = res.Line
	}
	recs := b.Records
	for _, res := range b.Results {
		switch res.Status {
		case intake.StatusRejected:
			r.reject(path, res.Line, res.Error.Error())
		case intake.StatusDuplicate:
			r.supersede(copyAt{file: path, line: res.Line}, copyAt{file: path, line: lineOf[res.SupersededBy]})
		case intake.StatusAccepted:
			a := recs[0]
			recs = recs[1:]
			at := copyAt{file: path, line: res.Line, pending: len(r.pending)}
			prev, ok := r.seen[a.Article.ID]
			switch {
			case !ok:
				r.pending = append(r.pending, a)
			case prev.pending >= 0:
				at.pending = prev.pending
				r.pending[prev.pending] = a
				r.supersede(prev, at)
			default:
				r.pending = append(r.pending, a)
				r.again++
				r.supersede(prev, at)
			}
			r.seen[a.Article.ID] = at
		}
	}
	if len(r.pending) >= r.opt.BatchSize {
		return r.flush()
	}
	return nil
}

// supersede counts earlier as a duplicate of later, the copy written instead.
func (r *run) supersede(earlier, later copyAt) {
	r.st.Duplicates++
	if len(r.st.Superseded) < MaxRejections {
		r.st.Superseded = append(r.st.Superseded, Rejection{File: earlier.file, Line: earlier.line,
			Reason: "superseded by " + later.String() + ", a later copy of the same article (same id)"})
	}
}

func (r *run) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.pub.Publish(r.ctx, r.pending); err != nil {
		return err
	}
	r.st.Accepted += len(r.pending) - r.again
	r.opt.Metrics.Accepted.WithLabelValues(intake.ChannelFile).Add(float64(len(r.pending)))
	for _, a := range r.pending {
		at := r.seen[a.Article.ID]
		at.pending = -1
		r.seen[a.Article.ID] = at
	}
	r.pending, r.again = r.pending[:0], 0
	r.progress()
	return nil
}

func (r *run) reject(file string, line int, reason string) {
	r.st.Rejected++
	if len(r.st.Rejections) < MaxRejections {
		r.st.Rejections = append(r.st.Rejections, Rejection{File: file, Line: line, Reason: reason})
	}
}

func (r *run) progress() {
	if r.opt.Progress != nil {
		r.opt.Progress(r.st)
	}
}
