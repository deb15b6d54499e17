package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/articleio"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
)

// extract is `enrich extract`: read articles, enrich them on every core, print them in input order.
func extract(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := config.New("enrich extract")
	var publishedAt string
	var workers int
	s.String(&publishedAt, "published-at", "", "", "publication time (RFC 3339 or YYYY-MM-DD) for articles that have none, e.g. plain-text files; default: now")
	s.Int(&workers, "workers", "NEWSFLOW_ENRICH_WORKERS", runtime.GOMAXPROCS(0), "articles enriched in parallel")
	s.FS.SetOutput(stderr)
	s.FS.Usage = func() {
		fmt.Fprint(stderr, `usage: enrich extract [--published-at TIME] [FILE ...]

Reads articles from each FILE (or stdin when there is none, or for "-") and prints one enriched
article JSON per line, in input order. An input may be a plain-text article (first line the
title, the rest the body), one JSON article, a JSON array of articles, or JSON Lines.
Bad records are reported on stderr as FILE:LINE: reason; the exit status is then 1.

`)
		s.FS.PrintDefaults()
	}
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	var pub time.Time
	if publishedAt != "" {
		var err error
		if pub, err = parseTime(publishedAt); err != nil {
			return service.UsageError{Err: fmt.Errorf("--published-at: %w", err)}
		}
	}
	if workers < 1 {
		return service.UsageError{Err: fmt.Errorf("--workers %d: want >= 1", workers)}
	}
	en, err := newEnricher()
	if err != nil {
		return err
	}
	files := s.FS.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriterSize(stdout, 1<<16)
	bad, err := extractAll(ctx, en, files, stdin, out, stderr, pub, workers)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d record(s) could not be read (see above)", bad)
	}
	return nil
}

// job is one article on its way through the workers; done carries its output line back to the
// writer, which takes jobs in input order.
type job struct {
	rec  articleio.Record
	done chan []byte
}

// extractAll runs the ordered parallel pipeline: one reader, `workers` enrichers, one writer.
// At most 4×workers articles are in flight, so memory stays bounded on any input size.
func extractAll(ctx context.Context, en *enrich.Enricher, files []string, stdin io.Reader, out io.Writer, stderr io.Writer, pub time.Time, workers int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := make(chan *job, 4*workers)
	work := make(chan *job, 4*workers)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		for _, name := range files {
			if err := readFile(ctx, name, stdin, func(r articleio.Record) error {
				j := &job{rec: r, done: make(chan []byte, 1)}
				select {
				case order <- j:
				case <-ctx.Done():
					return ctx.Err()
				}
				if r.Err != nil {
					j.done <- nil
					return nil
				}
				select {
				case work <- j:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}); err != nil {
				readErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				a := j.rec.Article
				if a.PublishedAt.IsZero() {
					a.PublishedAt = pub
				}
				if a.ID == "" {
					a.ID = article.ID(&a)
				}
				line, err := article.Marshal(en.Enrich(a))
				if err != nil { // cannot happen for these types; never lose the record silently
					line = nil
					j.rec.Err = fmt.Errorf("encoding the enriched article: %w", err)
				}
				j.done <- line
			}
		}()
	}
	bad := 0
	var writeErr error
	for j := range order {
		line := <-j.done
		if j.rec.Err != nil {
			bad++
			fmt.Fprintf(stderr, "%s: %v\n", j.rec.Where, j.rec.Err)
			continue
		}
		if writeErr != nil {
			continue
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			writeErr = fmt.Errorf("writing output: %w", err)
			cancel() // stop reading; drain what is in flight
		}
	}
	wg.Wait()
	if writeErr != nil {
		return bad, writeErr
	}
	if readErr != nil && !errors.Is(readErr, context.Canceled) {
		return bad, readErr
	}
	return bad, ctx.Err()
}

func readFile(ctx context.Context, name string, stdin io.Reader, fn func(articleio.Record) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, display := stdin, "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("opening input: %w", err)
		}
		defer f.Close()
		r, display = f, name
	}
	_, err := articleio.Read(r, display, fn)
	return err
}

// parseTime accepts RFC 3339 or a plain date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2019-08-21T08:00:00Z) nor a date (2019-08-21)", s)
}
