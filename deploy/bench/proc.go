package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
)

// svc is a service under measurement.
type svc struct{ *pipeline.Proc }

// freeAddr returns a free local address for a service's admin or HTTP port.
func freeAddr() string {
	addr, err := pipeline.FreeAddr()
	if err != nil {
		panic(err)
	}
	return addr
}

// start runs `NAME serve ARGS…` against the stack and waits until it is ready.
func (b *bench) start(ctx context.Context, name string, args ...string) (*svc, error) {
	return b.startAs(ctx, name, name, nil, args...)
}

// startAs is start for one of several instances of the service name: label names it in the
// report and names its log; env is added to its environment.
func (b *bench) startAs(_ context.Context, name, label string, env []string, args ...string) (*svc, error) {
	admin := freeAddr()
	p := &pipeline.Proc{Name: label, Bin: filepath.Join(b.o.bin, name), Admin: admin, Log: filepath.Join(b.tmp, strings.ReplaceAll(label, " ", "-")+".log"),
		Args: append(append([]string{"serve"}, args...), "--admin-addr", admin),
		Env:  append(append([]string{"NEWSFLOW_KAFKA_BROKERS=" + b.o.brokers, "NEWSFLOW_SEARCH_URL=" + b.o.searchURL, "NEWSFLOW_LOG_FORMAT=json"}, b.env...), env...)}
	if err := p.Start(); err != nil {
		return nil, err
	}
	if err := p.WaitReady(90 * time.Second); err != nil {
		_ = p.Stop(syscall.SIGTERM, 40*time.Second)
		return nil, err
	}
	return &svc{p}, nil
}

// startIngest starts ingest writing to topic and returns it with its API's base URL.
func (b *bench) startIngest(ctx context.Context, topic string) (*svc, string, error) {
	addr := freeAddr()
	s, err := b.start(ctx, "ingest", "--topic", topic, "--addr", addr, "--data-dir", filepath.Join(b.tmp, topic+"-state"))
	return s, "http://" + addr, err
}

// usage reads CPU seconds and peak RSS of the running process from /proc.
func (s *svc) usage(phase string) Usage {
	u := Usage{Process: s.Name, Phase: phase}
	pid := s.Pid()
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(f) > 12 {
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			u.CPUSeconds = (ut + st) / 100 // USER_HZ
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
				u.PeakRSSMB = kb / 1024
			}
		}
	}
	return u
}

func (s *svc) stop() { _ = s.Stop(syscall.SIGTERM, 40*time.Second) }
