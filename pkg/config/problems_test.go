package config

import (
	"errors"
	"testing"
)

func TestProblemsReportsEveryMistake(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems must be a nil error")
	}
	p.Add(nil)
	p.Check(false, "never")
	p.Add(errors.New("kafka: brokers: must not be empty"))
	p.Check(true, "workers: %d, want >= 1", 0)
	want := "kafka: brokers: must not be empty\nworkers: 0, want >= 1"
	if err := p.Err(); err == nil || err.Error() != want {
		t.Fatalf("Err() = %v, want %q", err, want)
	}
}
