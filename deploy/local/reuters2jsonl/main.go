// Command reuters2jsonl converts the Reuters-21578 SGML files into newsflow articles as JSON Lines,
// once, for the demo, the end-to-end tests and the benchmarks:
//
//	go run ./deploy/local/reuters2jsonl [-limit N] [-o FILE] [DIR]
//
// DIR defaults to ../shared/data/reuters21578 beside the repository.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/testenv"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "reuters2jsonl:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reuters2jsonl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limit := fs.Int("limit", 0, "stop after this many stories (0: all)")
	outPath := fs.String("o", "-", "output file (- for stdout)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reuters2jsonl [-limit N] [-o FILE] [DIR]\nConverts Reuters-21578 SGML files into newsflow article JSON Lines.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := fs.Arg(0)
	if dir == "" {
		d, ok := testenv.FindDataDir()
		if !ok {
			return fmt.Errorf("no DIR given and ../shared/data not found beside the repository")
		}
		dir = filepath.Join(d, "reuters21578")
	}
	var w io.Writer = stdout
	if *outPath != "-" {
		tmp := *outPath + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		defer f.Close()
		w = f
		defer func() {
			if f.Close() == nil {
				_ = os.Rename(tmp, *outPath)
			}
		}()
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := corpus.ReadReutersDir(dir, *limit, func(a article.Article) error {
		n++
		return enc.Encode(a)
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "reuters2jsonl: %d articles from %s\n", n, dir)
	return nil
}
