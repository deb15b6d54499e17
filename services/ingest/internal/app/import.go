package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/logging"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/tracing"
	"github.com/newsflow/newsflow/services/ingest/internal/decode"
	"github.com/newsflow/newsflow/services/ingest/internal/importer"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// errRejected makes `ingest import` exit non-zero when any item was rejected; the summary has
// already said which and why.
var errRejected = errors.New("some items were rejected (see the summary)")

// publisherFunc adapts a function to importer.Publisher.
type publisherFunc func(ctx context.Context, recs []publish.Record) error

// Publish calls f.
func (f publisherFunc) Publish(ctx context.Context, recs []publish.Record) error {
	return f(ctx, recs)
}

// discard is the publisher of a dry run: everything valid counts as accepted, nothing is written.
type discard struct{}

// Publish accepts and forgets recs.
func (discard) Publish(context.Context, []publish.Record) error { return nil }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, cfg := importFlags()
	if err := parse(s, "import", args, stderr); err != nil {
		return err
	}
	paths := s.FS.Args()
	if len(paths) == 0 {
		return service.UsageError{Err: errors.New("import: name at least one file or directory")}
	}
	if err := cfg.Validate(); err != nil {
		return service.UsageError{Err: fmt.Errorf("invalid configuration: %w", err)}
	}

	// An import is one trace (when OTEL_* turns tracing on): its batches' publish spans hang
	// from the "ingest import" span, and their articles' spans downstream from those.
	traces, err := tracing.Start(ctx, "ingest", discardLogger())
	if err != nil {
		return service.UsageError{Err: fmt.Errorf("tracing: %w", err)}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := traces.Shutdown(sctx); err != nil {
			fmt.Fprintf(stderr, "flushing traces: %v\n", err)
		}
	}()
	if traces.Enabled() {
		var span trace.Span
		ctx, span = traces.Tracer.Start(ctx, "ingest import", trace.WithAttributes(attribute.Int("newsflow.paths", len(paths))))
		defer span.End()
	}

	var pub importer.Publisher = discard{}
	// Nothing exposes an import's metrics; they are built as serve's are, so that the
	// components count the same way whichever command runs them.
	m := newMetrics(metrics.NewRegistry(), cfg.Topic)
	if !cfg.DryRun {
		if err := (&service.Runtime{Log: discardLogger()}).WaitForTopics(ctx, cfg.Kafka, 30*time.Second, cfg.Topic); err != nil {
			return err // names the topic and the last error
		}
		w, tr := newWriter(cfg.Kafka, cfg.Topic)
		defer tr.CloseIdleConnections()
		defer w.Close()
		p := &publish.Publisher{W: w, Topic: cfg.Topic, Timeout: cfg.Kafka.PublishTimeout(), M: m.Publish, Tracer: traces.Tracer}
		// An import is unattended: a broker restarting for a few seconds should not abort an
		// archive load, so a failed batch is retried. Re-sending is harmless (deterministic ids).
		pub = publisherFunc(func(ctx context.Context, recs []publish.Record) error {
			return retry.Do(ctx, retry.Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, Attempts: 6}, func(ctx context.Context) error {
				err := p.Publish(ctx, recs)
				if errors.Is(err, publish.ErrRecordTooLarge) {
					return retry.Permanent(err)
				}
				return err
			}, func(attempt int, err error, wait time.Duration) {
				fmt.Fprintf(stderr, "\nwriting to Kafka failed (attempt %d, retrying in %v): %v\n", attempt, wait.Round(time.Millisecond), err)
			})
		})
	}

	showProgress := cfg.Progress == "always" || (cfg.Progress == "auto" && logging.IsTerminal(stderr))
	opt := importer.Options{
		Meta:         decode.TextMeta{Source: cfg.Source, PublishedAt: cfg.PublishedAt, Language: cfg.Language},
		Limits:       cfg.Limits.article(),
		MaxFileBytes: cfg.Limits.MaxRequestBytes,
		BatchSize:    cfg.BatchSize,
		Metrics:      m.Intake,
	}
	start := time.Now()
	if showProgress {
		last := time.Time{}
		opt.Progress = func(st importer.Stats) {
			if time.Since(last) < 100*time.Millisecond {
				return
			}
			last = time.Now()
			fmt.Fprintf(stderr, "\r%d files, %d read, %d accepted, %d duplicates, %d rejected", st.Files, st.Read, st.Accepted, st.Duplicates, st.Rejected)
		}
	}
	st, err := importer.Import(ctx, paths, pub, opt)
	if showProgress {
		fmt.Fprintln(stderr)
	}
	printSummary(stdout, st, time.Since(start), cfg.DryRun)
	if err != nil {
		return fmt.Errorf("import stopped: %w", err)
	}
	if st.Rejected > 0 {
		return errRejected
	}
	return nil
}

func printSummary(w io.Writer, st importer.Stats, took time.Duration, dry bool) {
	verb := "accepted"
	if dry {
		verb = "valid (dry run, nothing written)"
	}
	fmt.Fprintf(w, "%d files, %d read, %d %s, %d duplicates, %d rejected in %v",
		st.Files, st.Read, st.Accepted, verb, st.Duplicates, st.Rejected, took.Round(time.Millisecond))
	if st.Skipped > 0 {
		fmt.Fprintf(w, " (%d files of other types skipped)", st.Skipped)
	}
	fmt.Fprintln(w)
	if st.Duplicates > 0 {
		// The later copy of an article is the one written; the earlier ones are listed (a few)
		// so that a person can tell a re-export from two stories that share a URL.
		fmt.Fprintln(w, "duplicates (the later copy was written):")
		const show = 20
		for _, r := range st.Superseded[:min(show, len(st.Superseded))] {
			fmt.Fprintf(w, "  %s\n", r)
		}
		if more := st.Duplicates - min(show, len(st.Superseded)); more > 0 {
			fmt.Fprintf(w, "  … and %d more\n", more)
		}
	}
	if st.Rejected > 0 {
		fmt.Fprintln(w, "rejected:")
		for _, r := range st.Rejections {
			fmt.Fprintf(w, "  %s\n", r)
		}
		if more := st.Rejected - len(st.Rejections); more > 0 {
			fmt.Fprintf(w, "  … and %d more\n", more)
		}
	}
}
