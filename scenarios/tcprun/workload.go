package tcprun

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
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
)

// opTimeout bounds one HTTP operation of a workload client: an operation
// without an answer by then stays pending in the history (it may or may
// not have taken effect).
const opTimeout = 10 * time.Second

// histories are the run's client histories, shared by the workload
// goroutines (each call holds mu).
type histories struct {
	mu     sync.Mutex
	locks  *scenarios.History
	queues *scenarios.QueueHistory
	caches *scenarios.CacheHistory
}

// record runs fn, which writes to the histories, under their lock.
func (h *histories) record(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn()
}

// driver runs one workload client against the cluster.
type driver struct {
	w      spec.Workload
	name   string
	api    *client.Client
	rng    *rand.Rand
	zipf   *rand.Zipf
	h      *histories
	pause  time.Duration // between operations, from the group's rate
	wbSeen func(key string)
}

// newDriver builds client i of workload w.
func newDriver(w spec.Workload, wi, i int, api *client.Client, seed uint64, h *histories) *driver {
	d := &driver{w: w, name: fmt.Sprintf("w%d.c%d", wi, i+1), api: api, h: h,
		rng: rand.New(rand.NewPCG(seed, uint64(wi)<<32|uint64(i)))}
	if w.Distribution == "zipf" && w.Resources > 1 {
		s := w.ZipfS
		if s <= 1 {
			s = 1.1
		}
		d.zipf = rand.NewZipf(d.rng, s, 1, uint64(w.Resources-1))
	}
	if r := w.RatePerSecond(); r > 0 {
		d.pause = time.Duration(float64(time.Second) * float64(w.Clients) / r)
	}
	return d
}

// pick returns the index of the next resource, key or queue.
func (d *driver) pick() int {
	if d.zipf != nil {
		return int(d.zipf.Uint64())
	}
	return d.rng.IntN(max(d.w.Resources, 1))
}

// run loops until ctx ends.
func (d *driver) run(ctx context.Context) {
	switch d.w.Service {
	case "locks":
		d.runLocks(ctx)
	case "queues":
		d.runQueues(ctx)
	case "caches":
		d.runCaches(ctx)
	}
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// definite reports whether err is an answer of the system (a refusal),
// as opposed to no answer (a timeout, no quorum, a dead connection): an
// operation without an answer may have taken effect.
func definite(err error) (*client.Error, bool) {
	var e *client.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	switch e.Status {
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout, 0:
		return e, false
	}
	return e, e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout
}

// runLocks opens a session, then acquires and releases locks.
func (d *driver) runLocks(ctx context.Context) {
	ttl := "60s"
	var session uint64
	seq := uint64(0)
	cid := lockmgr.ClientID(d.name)
	for session == 0 {
		oc, cancel := context.WithTimeout(ctx, opTimeout)
		r, err := d.api.OpenSession(oc, apitypes.SessionRequest{TTL: &ttl})
		cancel()
		if err == nil {
			session = r.Session
		} else if !sleep(ctx, 100*time.Millisecond) {
			return
		}
	}
	lastRenew := time.Now()
	wait := d.lockWait()
	for sleep(ctx, d.pause) {
		if time.Since(lastRenew) > 10*time.Second {
			rc, cancel := context.WithTimeout(ctx, opTimeout)
			_, _ = d.api.Renew(rc, apitypes.SessionRequest{Session: session})
			cancel()
			lastRenew = time.Now()
		}
		res := lockmgr.Resource(fmt.Sprintf("r%d", d.pick()))
		mode, modeName := lockmgr.Exclusive, apitypes.ModeExclusive
		if d.rng.Float64() < d.w.Shared {
			mode, modeName = lockmgr.Shared, apitypes.ModeShared
		}
		seq++
		op := locks.Op{Client: cid, Seq: seq, Kind: locks.OpAcquire, Session: lockmgr.SessionID(session), Resource: res, Mode: mode}
		d.h.record(func() { d.h.locks.Invoke(op) })
		oc, cancel := context.WithTimeout(ctx, opTimeout+30*time.Second)
		r, err := d.api.Acquire(oc, apitypes.AcquireRequest{Resource: string(res), Mode: modeName, Session: session, Wait: &wait})
		cancel()
		if err != nil {
			if e, ok := definite(err); ok {
				d.h.record(func() { d.h.locks.Complete(op, lockmgr.Result{Status: lockmgr.StatusRejected, Err: lockError(e)}) })
			}
			continue
		}
		d.h.record(func() {
			d.h.locks.Complete(op, lockmgr.Result{Status: lockmgr.StatusGranted, Session: lockmgr.SessionID(session), Token: lockmgr.Token(r.Token)})
		})
		if !sleep(ctx, d.w.Hold.D()) {
			return
		}
		seq++
		rel := locks.Op{Client: cid, Seq: seq, Kind: locks.OpRelease, Session: lockmgr.SessionID(session), Resource: res}
		d.h.record(func() { d.h.locks.Invoke(rel) })
		oc, cancel = context.WithTimeout(ctx, opTimeout)
		_, err = d.api.Release(oc, apitypes.SessionRequest{Session: session, Resource: string(res)})
		cancel()
		switch e, ok := definite(err); {
		case err == nil:
			d.h.record(func() {
				d.h.locks.Complete(rel, lockmgr.Result{Status: lockmgr.StatusOK, Session: lockmgr.SessionID(session)})
			})
		case ok:
			d.h.record(func() { d.h.locks.Complete(rel, lockmgr.Result{Status: lockmgr.StatusRejected, Err: lockError(e)}) })
		}
	}
}

// lockWait is the acquire's wait, from the workload ("none": a try-lock).
func (d *driver) lockWait() string {
	timeout, forever, err := spec.ParseWait(d.w.Wait)
	switch {
	case err != nil || d.w.Wait == "":
		return "2s"
	case forever:
		return "30s"
	}
	return timeout.String()
}

// lockError maps an API error code to the lock manager's error the
// history's model knows.
func lockError(e *client.Error) error {
	switch e.Code {
	case "would_block":
		return lockmgr.ErrWouldBlock
	case "not_holder":
		return lockmgr.ErrNotHolder
	}
	return fmt.Errorf("%s: %s", e.Code, e.Message)
}

// runQueues enqueues unique messages and dequeues and acks them.
func (d *driver) runQueues(ctx context.Context) {
	cid := queue.ClientID(d.name)
	seq := uint64(0)
	produce := d.w.ProduceOrDefault()
	for sleep(ctx, d.pause) {
		q := fmt.Sprintf("q%d", d.pick())
		seq++
		if d.rng.Float64() < produce {
			payload := fmt.Sprintf("%s/%d", d.name, seq)
			op := queues.Op{Client: cid, Seq: seq, Kind: queues.OpEnqueue, Queue: q, Payload: payload}
			d.h.record(func() { d.h.queues.Invoke(op) })
			oc, cancel := context.WithTimeout(ctx, opTimeout)
			r, err := d.api.Enqueue(oc, apitypes.EnqueueRequest{Queue: q, Body: []byte(payload)})
			cancel()
			if err == nil {
				d.h.record(func() { d.h.queues.Complete(op, queue.Result{Status: queue.StatusOK, ID: uint64(r.ID)}) })
			} else if _, ok := definite(err); ok {
				d.h.record(func() { d.h.queues.Complete(op, queue.Result{Status: queue.StatusRejected}) })
			}
			continue
		}
		d.dequeueAck(ctx, cid, &seq, q)
	}
}

// dequeueAck dequeues one message of q and acks it.
func (d *driver) dequeueAck(ctx context.Context, cid queue.ClientID, seq *uint64, q string) (empty bool) {
	op := queues.Op{Client: cid, Seq: *seq, Kind: queues.OpDequeue, Queue: q}
	d.h.record(func() { d.h.queues.Invoke(op) })
	oc, cancel := context.WithTimeout(ctx, opTimeout)
	req := apitypes.DequeueRequest{Queue: q}
	if v := d.w.Visibility.D(); v > 0 {
		s := v.String()
		req.Visibility = &s
	}
	r, err := d.api.Dequeue(oc, req)
	cancel()
	if err != nil {
		if _, ok := definite(err); ok {
			d.h.record(func() { d.h.queues.Complete(op, queue.Result{Status: queue.StatusRejected}) })
		}
		return false
	}
	if r.Empty {
		d.h.record(func() { d.h.queues.Complete(op, queue.Result{Status: queue.StatusEmpty}) })
		return true
	}
	d.h.record(func() {
		d.h.queues.Complete(op, queue.Result{Status: queue.StatusOK, ID: uint64(r.ID), Receipt: uint64(r.Receipt),
			Payload: r.Body, Gone: r.Gone, Deliveries: r.Deliveries})
	})
	*seq++
	ack := queues.Op{Client: cid, Seq: *seq, Kind: queues.OpAck, Queue: q, Receipt: uint64(r.Receipt)}
	d.h.record(func() { d.h.queues.Invoke(ack) })
	oc, cancel = context.WithTimeout(ctx, opTimeout)
	_, err = d.api.Ack(oc, apitypes.ReceiptRequest{Queue: q, Receipt: r.Receipt})
	cancel()
	if err == nil {
		d.h.record(func() { d.h.queues.Complete(ack, queue.Result{Status: queue.StatusOK}) })
	} else if _, ok := definite(err); ok {
		d.h.record(func() { d.h.queues.Complete(ack, queue.Result{Status: queue.StatusRejected}) })
	}
	return false
}

// runCaches reads and writes keys; every put writes a unique value.
func (d *driver) runCaches(ctx context.Context) {
	writes := d.w.WritesOrDefault()
	req := uint64(0)
	for sleep(ctx, d.pause) {
		key := fmt.Sprintf("k%d", d.pick())
		req++
		op := caches.Op{Client: d.name, Req: req, Kind: caches.OpGet, Key: key}
		if d.rng.Float64() < writes {
			op.Kind, op.Value = caches.OpPut, fmt.Sprintf("%s/%d", d.name, req)
		}
		d.h.record(func() { d.h.caches.Invoke(op) })
		oc, cancel := context.WithTimeout(ctx, opTimeout)
		var reply caches.Reply
		var err error
		if op.Kind == caches.OpPut {
			var r *apitypes.CachePutReply
			if r, err = d.api.CachePut(oc, key, []byte(op.Value)); err == nil {
				reply = caches.Reply{Client: d.name, Req: req, Service: nodes.ServiceOK, Version: r.Version}
				d.wbSeen(key)
			}
		} else {
			var v *apitypes.CacheValue
			if v, err = d.api.CacheGet(oc, key); err == nil {
				reply = caches.Reply{Client: d.name, Req: req, Service: nodes.ServiceOK, Found: true, Value: v.Value, Version: v.Version, Hit: v.Hit}
			} else if e, ok := definite(err); ok && e.Status == http.StatusNotFound {
				reply, err = caches.Reply{Client: d.name, Req: req, Service: nodes.ServiceOK}, nil
			}
		}
		cancel()
		if err == nil {
			d.h.record(func() { d.h.caches.Complete(op, reply) })
		} else if _, ok := definite(err); ok {
			d.h.record(func() {
				d.h.caches.Complete(op, caches.Reply{Client: d.name, Req: req, Service: nodes.ServiceBadRequest})
			})
		}
	}
}
