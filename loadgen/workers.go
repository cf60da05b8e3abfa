package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/httpapi/client"
)

// Kinds of operations, as the Result names them.
const (
	KindAcquireRelease = "acquire+release"
	KindAcquire        = "acquire"
	KindRelease        = "release"
	KindRenew          = "renew"
	KindOpenSession    = "open-session"
	KindEnqueue        = "enqueue"
	KindDequeue        = "dequeue"
	KindAck            = "ack"
	KindGet            = "get"
	KindPut            = "put"
)

// kinds lists each service's kinds, the main one first.
var kinds = map[string][]string{
	ServiceLocks: {KindAcquireRelease, KindAcquire, KindRelease, KindRenew, KindOpenSession},
	ServiceQueue: {KindEnqueue, KindDequeue, KindAck},
	ServiceCache: {KindGet, KindPut},
}

// MainKind returns the kind of operation a service's load is measured by.
func MainKind(service string) string {
	if k := kinds[service]; len(k) > 0 {
		return k[0]
	}
	return ""
}

// emptyPause is how long a queue consumer waits after an empty dequeue.
const emptyPause = 5 * time.Millisecond

// teardownTimeout bounds the closing of the lock sessions.
const teardownTimeout = 5 * time.Second

// generator is one run's clients.
type generator struct {
	cfg     Config
	workers []*worker
}

// worker is one closed-loop client.
type worker struct {
	id   int
	cfg  *Config
	c    *client.Client
	rng  *rand.Rand
	rec  *recorder
	loop func(ctx context.Context, end time.Time)

	// client names the worker's own client id (locks and queues), with
	// seq its last sequence number: the worker's commands are exactly-once
	// and run concurrently with the other workers', as etcd clients with
	// their own sessions do (without one, the server runs each command as
	// one of its pooled client ids, a few dozen).
	client string
	seq    uint64

	value   []byte     // a queue message or cache value
	session uint64     // locks
	renewed time.Time  // locks: when the session was last renewed
	zipf    *rand.Zipf // cache
}

func newGenerator(cfg Config, hc *http.Client) (*generator, error) {
	g := &generator{cfg: cfg}
	// Client ids differ from run to run: a node remembers each client's
	// last sequence number.
	run := uint32(time.Now().UnixNano()) ^ uint32(cfg.Seed)
	n := cfg.Clients
	if cfg.Service == ServiceQueue {
		n *= 2 // producers, then as many consumers
	}
	for i := range n {
		eps := append(append([]string(nil), cfg.Endpoints[i%len(cfg.Endpoints):]...), cfg.Endpoints[:i%len(cfg.Endpoints)]...)
		c, err := client.New(client.Config{Endpoints: eps, HTTPClient: hc, Timeout: cfg.Timeout, Retries: cfg.Retries})
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		w := &worker{id: i, cfg: &g.cfg, c: c, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), rec: newRecorder(),
			client: fmt.Sprintf("load-%x-%d", run, i)}
		w.value = make([]byte, cfg.ValueBytes)
		for j := range w.value {
			w.value[j] = 'a' + byte(w.rng.IntN(26))
		}
		switch {
		case cfg.Service == ServiceLocks:
			w.loop = w.locks
		case cfg.Service == ServiceQueue && i < cfg.Clients:
			w.loop = w.produce
		case cfg.Service == ServiceQueue:
			w.loop = w.consume
		default:
			w.zipf = rand.NewZipf(w.rng, cfg.Zipf, 1, uint64(cfg.Resources-1))
			w.loop = w.cache
		}
		g.workers = append(g.workers, w)
	}
	return g, nil
}

// setup opens the lock clients' sessions, or enqueues a first message in
// every queue (creating its group), before the clock starts.
func (g *generator) setup(ctx context.Context) error {
	switch g.cfg.Service {
	case ServiceLocks:
		return forAll(len(g.workers), func(i int) error {
			w := g.workers[i]
			if err := w.openSession(ctx); err != nil {
				return fmt.Errorf("loadgen: setup: client %d: open session: %w", w.id, err)
			}
			return nil
		})
	case ServiceQueue:
		return forAll(g.cfg.Resources, func(i int) error {
			w := g.workers[i%len(g.workers)]
			_, err := w.c.Enqueue(ctx, apitypes.EnqueueRequest{Queue: queueName(i), Body: []byte("warm-up")})
			if err != nil {
				return fmt.Errorf("loadgen: setup: enqueue to %s: %w", queueName(i), err)
			}
			return nil
		})
	}
	return nil
}

// teardown closes the lock sessions still open.
func (g *generator) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	_ = forAll(len(g.workers), func(i int) error {
		if w := g.workers[i]; w.session != 0 {
			_, _ = w.c.CloseSession(ctx, apitypes.SessionRequest{Session: w.session})
			w.session = 0
		}
		return nil
	})
}

// forAll runs f(0..n-1) at most 64 at a time and returns the first error.
func forAll(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func resourceName(i int) string { return fmt.Sprintf("load-r%d", i) }
func queueName(i int) string    { return fmt.Sprintf("load-q%d", i) }
func keyName(i uint64) string   { return fmt.Sprintf("load-k%d", i) }

// running reports whether the worker should start another operation.
func running(ctx context.Context, end time.Time) bool {
	return ctx.Err() == nil && time.Now().Before(end)
}

// openSession opens the worker's lock session.
func (w *worker) openSession(ctx context.Context) error {
	s, err := w.c.OpenSession(ctx, apitypes.SessionRequest{TTL: apitypes.Duration(SessionTTL), Client: w.client, Seq: w.next()})
	if err != nil {
		return err
	}
	w.session, w.renewed = s.Session, time.Now()
	return nil
}

// next returns the worker's next sequence number.
func (w *worker) next() uint64 {
	w.seq++
	return w.seq
}

// sessionLost reports whether err says the worker's session is gone.
func sessionLost(err error) bool {
	switch client.Code(err) {
	case apitypes.CodeUnknownSession, apitypes.CodeSessionExpired, "session_closed":
		return true
	}
	return false
}

// locks is a lock client's loop: acquire a random resource, release it.
func (w *worker) locks(ctx context.Context, end time.Time) {
	wait := apitypes.Duration(w.cfg.Wait)
	for running(ctx, end) {
		if w.session == 0 {
			t := time.Now()
			err := w.openSession(ctx)
			w.rec.record(ctx, KindOpenSession, t, err, false)
			if err != nil {
				continue
			}
		}
		if time.Since(w.renewed) > SessionTTL/3 {
			t := time.Now()
			_, err := w.c.Renew(ctx, apitypes.SessionRequest{Session: w.session, Client: w.client, Seq: w.next()})
			w.rec.record(ctx, KindRenew, t, err, false)
			if err == nil {
				w.renewed = time.Now()
			}
			w.drop(err)
			continue
		}
		res := resourceName(w.rng.IntN(w.cfg.Resources))
		t0 := time.Now()
		_, err := w.c.Acquire(ctx, apitypes.AcquireRequest{Resource: res, Mode: apitypes.ModeExclusive, Session: w.session, Wait: wait,
			Client: w.client, Seq: w.next()})
		w.rec.record(ctx, KindAcquire, t0, err, false)
		if err != nil {
			w.rec.record(ctx, KindAcquireRelease, t0, err, false)
			w.drop(err)
			continue
		}
		t1 := time.Now()
		_, err = w.c.Release(ctx, apitypes.SessionRequest{Session: w.session, Resource: res, Client: w.client, Seq: w.next()})
		w.rec.record(ctx, KindRelease, t1, err, false)
		w.rec.record(ctx, KindAcquireRelease, t0, err, false)
		w.drop(err)
	}
}

// drop forgets the session if err says it is gone (a new one is opened).
func (w *worker) drop(err error) {
	if sessionLost(err) {
		w.session = 0
	}
}

// produce is a queue producer's loop.
func (w *worker) produce(ctx context.Context, end time.Time) {
	for running(ctx, end) {
		q := queueName(w.rng.IntN(w.cfg.Resources))
		t := time.Now()
		_, err := w.c.Enqueue(ctx, apitypes.EnqueueRequest{Queue: q, Body: w.value, Client: w.client, Seq: w.next()})
		w.rec.record(ctx, KindEnqueue, t, err, false)
	}
}

// consume is a queue consumer's loop: dequeue and ack, pausing after an
// empty dequeue.
func (w *worker) consume(ctx context.Context, end time.Time) {
	vis := apitypes.Duration(30 * time.Second)
	for running(ctx, end) {
		q := queueName(w.rng.IntN(w.cfg.Resources))
		t0 := time.Now()
		d, err := w.c.Dequeue(ctx, apitypes.DequeueRequest{Queue: q, Visibility: vis, Client: w.client, Seq: w.next()})
		empty := err == nil && d.Empty
		w.rec.record(ctx, KindDequeue, t0, err, empty)
		switch {
		case empty:
			pause(ctx, min(emptyPause, time.Until(end)))
		case err == nil:
			t1 := time.Now()
			_, err = w.c.Ack(ctx, apitypes.ReceiptRequest{Queue: q, Receipt: d.Receipt, Client: w.client, Seq: w.next()})
			w.rec.record(ctx, KindAck, t1, err, false)
		}
	}
}

// cache is a cache client's loop: a put (Writes of the time) or a get of
// a Zipf-chosen key.
func (w *worker) cache(ctx context.Context, end time.Time) {
	var n uint64
	for running(ctx, end) {
		key := keyName(w.zipf.Uint64())
		t := time.Now()
		if w.rng.Float64() < w.cfg.Writes {
			n++
			copy(w.value, fmt.Sprintf("%d.%d.", w.id, n)) // values differ
			_, err := w.c.CachePut(ctx, key, w.value)
			w.rec.record(ctx, KindPut, t, err, false)
			continue
		}
		_, err := w.c.CacheGet(ctx, key)
		miss := client.IsCode(err, apitypes.CodeNotFound)
		if miss {
			err = nil
		}
		w.rec.record(ctx, KindGet, t, err, miss)
	}
}

// pause sleeps d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// recorder is one worker's measurements.
type recorder struct {
	start time.Time
	ops   map[string]*opRec
}

type opRec struct {
	ok, misses int64
	errors     map[string]int64
	lat        Histogram
	secs       []secRec
}

type secRec struct {
	ok, errors int64
	lat        Histogram
}

func newRecorder() *recorder { return &recorder{ops: map[string]*opRec{}} }

// record counts one operation of kind that began at began and ended now,
// failed with err or not (and found nothing if miss). An operation cut
// short by the end of ctx is not counted.
func (r *recorder) record(ctx context.Context, kind string, began time.Time, err error, miss bool) {
	if err != nil && ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return
	}
	now := time.Now()
	o := r.ops[kind]
	if o == nil {
		o = &opRec{errors: map[string]int64{}}
		r.ops[kind] = o
	}
	sec := max(int(now.Sub(r.start)/time.Second), 0)
	if sec >= len(o.secs) {
		o.secs = append(o.secs, make([]secRec, sec+1-len(o.secs))...)
	}
	s := &o.secs[sec]
	if err != nil {
		o.errors[client.Code(err)]++
		s.errors++
		return
	}
	lat := now.Sub(began)
	o.ok++
	if miss {
		o.misses++
	}
	o.lat.Record(lat)
	s.ok++
	s.lat.Record(lat)
}

// result merges the workers' measurements.
func (g *generator) result(start time.Time, elapsed time.Duration) *Result {
	cfg := g.cfg
	r := &Result{Version: ResultVersion, Service: cfg.Service, Clients: cfg.Clients, Endpoints: cfg.Endpoints,
		Resources: cfg.Resources, Seed: cfg.Seed, Started: start, Duration: Duration(cfg.Duration), Elapsed: Duration(elapsed)}
	switch cfg.Service {
	case ServiceLocks:
		r.Wait = Duration(cfg.Wait)
	case ServiceQueue:
		r.Consumers, r.ValueBytes = cfg.Clients, cfg.ValueBytes
	case ServiceCache:
		r.ValueBytes, r.Writes = cfg.ValueBytes, cfg.Writes
	}
	for i, kind := range kinds[cfg.Service] {
		var merged opRec
		merged.errors = map[string]int64{}
		seen := false
		for _, w := range g.workers {
			o := w.rec.ops[kind]
			if o == nil {
				continue
			}
			seen = true
			merged.ok += o.ok
			merged.misses += o.misses
			for code, n := range o.errors {
				merged.errors[code] += n
			}
			merged.lat.Merge(&o.lat)
			if len(o.secs) > len(merged.secs) {
				merged.secs = append(merged.secs, make([]secRec, len(o.secs)-len(merged.secs))...)
			}
			for j := range o.secs {
				merged.secs[j].ok += o.secs[j].ok
				merged.secs[j].errors += o.secs[j].errors
				merged.secs[j].lat.Merge(&o.secs[j].lat)
			}
		}
		if !seen && i > 0 {
			continue // a kind that never ran (no session was lost)
		}
		lat := merged.lat
		st := &OpStats{Kind: kind, OK: merged.ok, Misses: merged.misses, Latency: &lat, Timeline: []Second{}}
		if len(merged.errors) > 0 {
			st.Errors = merged.errors
		}
		for j, s := range merged.secs {
			st.Timeline = append(st.Timeline, Second{At: j, OK: s.ok, Errors: s.errors,
				P50: s.lat.Quantile(0.5), P99: s.lat.Quantile(0.99), Max: s.lat.Max()})
		}
		r.Ops = append(r.Ops, st)
	}
	return r
}
