package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/newsflow/newsflow/pkg/articleio"
)

// Admission bounds what concurrent POSTs can take from ingest, so that slow or greedy clients
// (bodies trickled in over minutes, answers never read, many requests at once) cannot exhaust
// its memory or starve the clients that behave:
//
//   - at most MaxInFlight requests are read and handled at once; one more waits up to Wait
//     for a slot (first come, first served) and is then answered 429, its body unread. Waiting
//     rather than refusing at once lets a normal request in between greedy ones, whose slots
//     turn over within about Wait (see below). A request leaves that count when its answer
//     starts: a client that does not read its answer then holds only its bytes (below) and,
//     until the write timeout, its connection, not a slot that normal clients need;
//   - the bytes that requests hold (their bodies as they are read, then an estimate of what
//     decoding, normalising and encoding them holds, see charge) come out of one budget of
//     MaxBufferedBytes; a request that needs more than is free waits up to Wait for others to
//     finish and is then answered 429. Waits are bounded, so requests that each hold part of the
//     budget and wait for more can never deadlock: one of them gives up and releases its share.
//
// The first FreeBytes of every request are not taken from the budget, so a small request (one
// article, a few dozen) is never kept waiting by large ones. What requests hold is then bounded
// by MaxBufferedBytes + FreeBytes for each request in flight or writing its answer (the latter
// only until the write timeout, and only when the answer outgrows the socket buffers).
type Admission struct {
	inFlight chan struct{}
	bytes    *semaphore.Weighted
	size     int64
	free     int64
	wait     time.Duration
	m        *AdmissionMetrics // never nil (NewAdmission)
}

// AdmissionConfig sizes an Admission.
type AdmissionConfig struct {
	MaxInFlight      int
	MaxBufferedBytes int64
	FreeBytes        int64         // per request, not taken from the budget; default 64 KiB
	Wait             time.Duration // longest wait for budget; default 1s
}

// DecodeFactor is how many times its body a request is charged once it has been read: the
// body itself, the decoded items' strings, the normalised articles and their encoded records
// are alive together while a request is handled (an estimate; TestSlowAndGreedyClients
// checks that ingest's RSS stays well under its pod limit with it).
const DecodeFactor = 4

// ItemBytes is what a request is charged per item on top of DecodeFactor: the decoded item,
// its normalised article, its result and its reason in the answer (an estimate, of the order
// of the structs involved for a rejected "{}"). Without it a body of 10,000 "{}" lines (30 kB) would hold 10 MB unaccounted.
const ItemBytes = 1 << 10

// maxItems bounds, cheaply and before decoding, how many items data can hold: its lines for
// NDJSON, its '{' for JSON (every item is an object), one for text; never more than limit.
func maxItems(f articleio.Format, data []byte, limit int) int {
	n := 1
	switch f {
	case articleio.FormatJSONLines:
		n = bytes.Count(data, []byte("\n")) + 1
	case articleio.FormatJSON:
		n = bytes.Count(data, []byte("{"))
	}
	if limit > 0 {
		n = min(n, limit)
	}
	return n
}

// MinBufferedBytes is the smallest budget for the request limits: a request of the largest
// allowed size and item count must fit on its own, or it would wait in vain.
func MinBufferedBytes(maxRequestBytes int64, maxItems int) int64 {
	return DecodeFactor*(maxRequestBytes+1) + ItemBytes*int64(maxItems)
}

// AdmissionMetrics counts what Admission turned away and what it holds.
type AdmissionMetrics struct {
	Shed     *prometheus.CounterVec // reason: in_flight, buffer
	InFlight prometheus.Gauge
	Buffered prometheus.Gauge
}

// NewAdmissionMetrics registers the admission metrics on reg.
func NewAdmissionMetrics(reg prometheus.Registerer) *AdmissionMetrics {
	m := &AdmissionMetrics{
		Shed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_ingest_http_shed_total",
			Help: "POST /v1/articles requests answered 429 because ingest was at capacity, by reason (in_flight: too many requests at once; buffer: the byte budget was spent)."}, []string{"reason"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_ingest_http_in_flight_requests",
			Help: "POST /v1/articles requests being handled."}),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_ingest_http_buffered_bytes",
			Help: "Bytes of the request byte budget held by requests being handled."}),
	}
	for _, r := range []string{shedInFlight, shedBuffer} {
		m.Shed.WithLabelValues(r)
	}
	reg.MustRegister(m.Shed, m.InFlight, m.Buffered)
	return m
}

const (
	shedInFlight = "in_flight"
	shedBuffer   = "buffer"
)

// NewAdmission returns an Admission for c that counts into m; a nil m gets a set on a private
// registry that nothing exposes, so the Admission's code needs no nil checks.
func NewAdmission(c AdmissionConfig, m *AdmissionMetrics) *Admission {
	if m == nil {
		m = NewAdmissionMetrics(prometheus.NewRegistry())
	}
	if c.FreeBytes <= 0 {
		c.FreeBytes = 64 << 10
	}
	if c.Wait <= 0 {
		c.Wait = time.Second
	}
	return &Admission{inFlight: make(chan struct{}, c.MaxInFlight), bytes: semaphore.NewWeighted(c.MaxBufferedBytes),
		size: c.MaxBufferedBytes, free: c.FreeBytes, wait: c.Wait, m: m}
}

// errBusy means the byte budget stayed spent for the whole wait.
var errBusy = errors.New("ingest is at capacity")

// enter takes an in-flight slot, waiting up to Wait (FIFO: a channel's blocked senders are
// served in order); ok false means the request must be shed.
func (a *Admission) enter(ctx context.Context) (*charge, bool) {
	if a == nil {
		return nil, true
	}
	select {
	case a.inFlight <- struct{}{}:
	default:
		t := time.NewTimer(a.wait)
		defer t.Stop()
		select {
		case a.inFlight <- struct{}{}:
		case <-t.C:
			a.shed(shedInFlight)
			return nil, false
		case <-ctx.Done():
			a.shed(shedInFlight)
			return nil, false
		}
	}
	a.m.InFlight.Inc()
	return &charge{a: a}, true
}

func (a *Admission) shed(reason string) {
	a.m.Shed.WithLabelValues(reason).Inc()
}

// charge is what one request holds of the budget. Its methods are called from the request's
// goroutine only.
type charge struct {
	a    *Admission
	used int64 // bytes the request holds (or is about to)
	held int64 // of which taken from the budget
	left bool  // the in-flight slot was given back
}

// leave gives the in-flight slot back (once); the bytes stay held until done.
func (c *charge) leave() {
	if c == nil || c.left {
		return
	}
	c.left = true
	<-c.a.inFlight
	c.a.m.InFlight.Dec()
}

// answering gives the request's in-flight slot back when its answer starts (WriteHeader).
type answering struct {
	http.ResponseWriter
	c *charge
}

func (w answering) WriteHeader(code int) {
	w.c.leave()
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (write deadlines).
func (w answering) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// grow accounts for n more bytes, waiting up to the Admission's Wait for budget.
func (c *charge) grow(ctx context.Context, n int64) error {
	if c == nil {
		return nil
	}
	c.used += n
	need := c.used - c.a.free - c.held
	if need <= 0 {
		return nil
	}
	if need > c.a.size-c.held { // could never be granted: fail now rather than after the wait
		c.a.shed(shedBuffer)
		return errBusy
	}
	wctx, cancel := context.WithTimeout(ctx, c.a.wait)
	defer cancel()
	if err := c.a.bytes.Acquire(wctx, need); err != nil {
		c.a.shed(shedBuffer)
		return errBusy
	}
	c.held += need
	c.a.m.Buffered.Add(float64(need))
	return nil
}

// done releases the request's slot and bytes.
func (c *charge) done() {
	if c == nil {
		return
	}
	if c.held > 0 {
		c.a.bytes.Release(c.held)
		c.a.m.Buffered.Sub(float64(c.held))
	}
	c.leave()
}

// readBody reads r up to limit bytes (a *http.MaxBytesError beyond), charging the buffer's
// capacity before it grows: memory is taken as bytes arrive, not when a Content-Length
// promises them, so a client that announces 8 MiB and trickles holds only what it sent.
//
// The buffers come from bodyPools and the caller gives the body back (putBody) once it is
// decoded: a request of 1,000 articles grew a buffer five times to 2 MiB, which was two fifths
// of what ingest allocated.
func readBody(ctx context.Context, r io.Reader, contentLength, limit int64, c *charge) ([]byte, error) {
	r = io.LimitReader(r, limit+1)
	next := min(limit+1, minBodyBuffer)
	if contentLength >= 0 && contentLength < next {
		// A small body announced as such gets a buffer of its size (+1 to see EOF without
		// growing), within the request's free bytes: one article never waits for the budget.
		next = contentLength + 1
	}
	if err := c.grow(ctx, next); err != nil {
		return nil, err
	}
	buf := getBody(next)
	for {
		if len(buf) == cap(buf) {
			// Doubling leaves the least garbage behind (smaller steps copy the body many
			// times over); the charge is the new capacity, so a request may hold up to twice
			// what it sent. (> cap: a full buffer of limit+1 bytes has already returned.)
			next := min(2*int64(cap(buf)), limit+1)
			if err := c.grow(ctx, next-int64(cap(buf))); err != nil {
				putBody(buf)
				return nil, err
			}
			nb := getBody(next)[:len(buf)]
			copy(nb, buf)
			putBody(buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			putBody(buf)
			return nil, &http.MaxBytesError{Limit: limit}
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			putBody(buf)
			return nil, err
		}
	}
}

// minBodyBuffer is the first buffer of a request body, and the smallest class of bodyPools.
const minBodyBuffer = 64 << 10

// bodyPools keep request-body buffers by capacity, minBodyBuffer<<k for class k: readBody's
// buffers double from minBodyBuffer, so these are the only sizes it asks for, except a last
// one capped at the request limit + 1, which is not kept.
var bodyPools [16]sync.Pool

// bodyClass is the class of a buffer of capacity n, or -1 when n is not one of bodyPools'.
func bodyClass(n int64) int {
	k := bits.Len64(uint64(n/minBodyBuffer)) - 1
	if n < minBodyBuffer || n != minBodyBuffer<<k || k >= len(bodyPools) {
		return -1
	}
	return k
}

// getBody returns an empty buffer of capacity n.
func getBody(n int64) []byte {
	if k := bodyClass(n); k >= 0 {
		if b, ok := bodyPools[k].Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, n)
}

// putBody gives b back to its pool; nothing may use b afterwards.
func putBody(b []byte) {
	if k := bodyClass(int64(cap(b))); k >= 0 {
		bodyPools[k].Put(&b)
	}
}

// retryAfter renders d as a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(max(1, d.Round(time.Second)/time.Second)))
}

// busyMessage is the error of a 429.
func busyMessage(reason string) string {
	if reason == shedInFlight {
		return "too many requests in flight; nothing of this request was accepted, send it again after Retry-After"
	}
	return "ingest holds as many request bytes as it may; nothing of this request was accepted, send it again after Retry-After"
}
