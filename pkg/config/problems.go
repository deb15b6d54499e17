package config

import (
	"errors"
	"fmt"
)

// Problems collects what is wrong with a configuration, so that Validate reports every mistake
// at once ("topic: must not be empty\nworkers: 0, want >= 1") instead of one per run. Every
// service's Validate has this shape:
//
//	var p config.Problems
//	p.Add(c.Kafka.Validate())
//	p.Check(c.Workers < 1, "workers: %d, want >= 1", c.Workers)
//	return p.Err()
//
// Messages start with the flag's name, as the operator wrote it.
type Problems struct{ errs []error }

// Add records err if it is not nil (a nested Validate's verdict).
func (p *Problems) Add(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

// Check records the message when bad is true.
func (p *Problems) Check(bad bool, format string, args ...any) {
	if bad {
		p.errs = append(p.errs, fmt.Errorf(format, args...))
	}
}

// Err is every problem recorded, joined, or nil.
func (p *Problems) Err() error { return errors.Join(p.errs...) }
