package runtime

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// ErrStopped is returned by Do and Request once the Host's event loop has
// ended, by Stop or by a panic in the node (see Host.Err).
var ErrStopped = errors.New("runtime: host stopped")

// Host runs one node: its event loop goroutine, its TCP transport, its
// timers and its directory-backed Disk. Its methods are safe for concurrent
// use; the node itself is only ever touched by the loop goroutine.
type Host struct {
	s    *settings
	seed uint64
	c    counters
	disk *DirDisk
	tr   *transport
	node nodes.Node
	env  *loopEnv

	events   chan event
	quit     chan struct{} // closed by Stop: the loop must end
	started  chan struct{} // closed once node.Start has returned
	loopDone chan struct{} // closed when the loop has ended
	wg       sync.WaitGroup

	failMu  sync.Mutex
	failure error // a panic of the node, which ended the loop

	clientsMu  sync.Mutex
	clients    map[nodes.NodeID]*Subscription // local clients: subscriptions and callers waiting in Request
	subsClosed bool                           // the loop has ended: every subscription is closed, no new one opens
	nextClient atomic.Uint64

	stopOnce sync.Once
	stopErr  error

	// Owned by the loop goroutine.
	timers    map[nodes.TimerID]timerEntry
	nextTimer nodes.TimerID
	selfq     []nodes.Message
	enc       wire.Encoder
	scratch   wire.Encoder
}

type eventKind uint8

const (
	evMessage eventKind = iota + 1
	evTimer
	evCall
)

// event is one unit of work for the loop.
type event struct {
	kind  eventKind
	from  nodes.NodeID
	msg   nodes.Message
	timer nodes.TimerID
	call  *call
}

// timerEntry is a pending timer. Only the loop reads or writes the map that
// holds it; an entry missing from the map marks a firing as stale.
type timerEntry struct {
	t     *time.Timer
	timer nodes.Timer
}

// Call states: a call runs only if the loop moves it from pending to
// running before its caller gives up (pending to abandoned).
const (
	callPending int32 = iota
	callRunning
	callAbandoned
)

// call is a function to run on the loop for Do.
type call struct {
	what  string // for the failure message: "call", "receive from client"
	fn    func(nodes.Node, nodes.Env)
	state atomic.Int32
	done  chan struct{}
	err   error // set before done is closed
}

// Start validates cfg, opens the node's directory and listener, starts the
// transport and the event loop, and returns once the node's Start handler
// has run (so its recovery is done). On error nothing is left running, and
// cfg.Listener, if given, is closed.
func Start(cfg Config) (*Host, error) {
	s, err := cfg.validate()
	if err != nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return nil, err
	}
	ln := s.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", s.listen)
		if err != nil {
			return nil, fmt.Errorf("runtime config: listen: address %q: %w", s.listen, err)
		}
	}
	disk, err := OpenDirDisk(s.Dir)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("runtime config: dir: %w", err)
	}
	node := s.Factory(s.ID)
	if node == nil {
		_ = ln.Close()
		_ = disk.Close()
		return nil, fmt.Errorf("runtime config: factory: returned a nil node for %q", s.ID)
	}
	seed := s.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:]) // never fails (crypto/rand.Read panics rather than return an error)
		seed = binary.LittleEndian.Uint64(b[:])
	}
	h := &Host{
		s: s, seed: seed, disk: disk, node: node,
		events:   make(chan event, s.EventQueue),
		quit:     make(chan struct{}),
		started:  make(chan struct{}),
		loopDone: make(chan struct{}),
		clients:  map[nodes.NodeID]*Subscription{},
		timers:   map[nodes.TimerID]timerEntry{},
	}
	idHash := fnv.New64a()
	_, _ = idHash.Write([]byte(s.ID))
	h.env = &loopEnv{h: h, rng: rand.New(rand.NewPCG(seed, idHash.Sum64()))}
	h.tr = newTransport(s, &h.c, ln, h.deliver)
	h.tr.start()
	h.wg.Add(1)
	go h.run()
	select {
	case <-h.started:
		s.logger.Info("node started", "addr", ln.Addr().String(), "dir", s.Dir, "seed", seed)
		return h, nil
	case <-h.loopDone:
		startErr := h.Err()
		_ = h.Stop()
		return nil, startErr
	}
}

// ID returns the node's id.
func (h *Host) ID() nodes.NodeID { return h.s.ID }

// Addr returns the address the node listens on, with the port the kernel
// chose if the configured port was 0.
func (h *Host) Addr() net.Addr { return h.tr.ln.Addr() }

// Seed returns the seed of the node's random source, the configured one or
// the one drawn at Start.
func (h *Host) Seed() uint64 { return h.seed }

// Stats returns the transport and loop counters.
func (h *Host) Stats() Stats { return h.c.snapshot() }

// Done returns a channel closed when the event loop has ended, by Stop or by
// a panic of the node; a supervisor can wait on it and then call Stop.
func (h *Host) Done() <-chan struct{} { return h.loopDone }

// Err returns the panic that ended the event loop, with its stack, or nil.
func (h *Host) Err() error {
	h.failMu.Lock()
	defer h.failMu.Unlock()
	return h.failure
}

func (h *Host) stoppedErr() error {
	if err := h.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return ErrStopped
}

// Stop shuts the node down cleanly: the loop ends after its current
// handler, pending timers are stopped, queued frames are flushed (within
// FlushTimeout), connections and the listener are closed, every goroutine is
// waited for, and the files the node left open are closed. Unsynced writes
// are not synced, just as a crash would not sync them. Stop is idempotent;
// it returns the errors met while closing.
func (h *Host) Stop() error {
	h.stopOnce.Do(func() {
		close(h.quit)
		<-h.loopDone
		errs := []error{h.tr.stop()}
		h.wg.Wait()
		if err := h.disk.Close(); err != nil {
			errs = append(errs, fmt.Errorf("runtime: node %s: %w", h.s.ID, err))
		}
		h.stopErr = errors.Join(errs...)
		h.s.logger.Info("node stopped", "stats", fmt.Sprintf("%+v", h.Stats()))
	})
	return h.stopErr
}

// Do runs fn on the event loop, between two handlers, with the node and its
// Env, and waits for it to return. This is how another goroutine (an HTTP
// handler, a test) may read or drive the node safely. If ctx ends before fn
// has started, fn never runs and Do returns ctx's error; once fn has
// started, Do waits for it. Do must not be called from the loop itself (from
// node code or from fn): it would wait for itself.
func (h *Host) Do(ctx context.Context, fn func(n nodes.Node, env nodes.Env)) error {
	if fn == nil {
		return fmt.Errorf("runtime: node %s: Do with a nil function", h.s.ID)
	}
	return h.do(ctx, "call", fn)
}

// do is Do with a label for the failure message should fn panic.
func (h *Host) do(ctx context.Context, what string, fn func(nodes.Node, nodes.Env)) error {
	c := &call{what: what, fn: fn, done: make(chan struct{})}
	select {
	case h.events <- event{kind: evCall, call: c}:
	case <-ctx.Done():
		return fmt.Errorf("runtime: node %s: Do: %w", h.s.ID, ctx.Err())
	case <-h.loopDone:
		return h.stoppedErr()
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		if c.state.CompareAndSwap(callPending, callAbandoned) {
			return fmt.Errorf("runtime: node %s: Do: %w", h.s.ID, ctx.Err())
		}
	case <-h.loopDone:
		if c.state.CompareAndSwap(callPending, callAbandoned) {
			return h.stoppedErr()
		}
	}
	<-c.done // fn started: wait for it to finish
	return c.err
}

// Request delivers m to the node as if sent by client, and waits for the
// node's first message back to client: the reply. This is how an HTTP
// handler turns a request into a message for the node and waits for the
// answer. client must be a valid id that is not a peer and has no
// subscription; empty means a fresh id ("client-N"). Both m and the reply
// go through the codec, so neither side shares memory with the other.
// Request is a one-shot Subscription: further messages the node sends to
// client after the reply are dropped (DroppedUnknownDest). A caller that
// expects several messages (a queued lock's Notify) uses Subscribe.
func (h *Host) Request(ctx context.Context, client nodes.NodeID, m nodes.Message) (nodes.Message, error) {
	if client == "" {
		client = nodes.NodeID(fmt.Sprintf("client-%d", h.nextClient.Add(1)))
	}
	sub, err := h.subscribe(client, 1, true)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	if err := sub.Send(ctx, m); err != nil {
		return nil, err
	}
	select {
	case out, ok := <-sub.ch:
		if !ok { // closed: the loop ended without a reply
			return nil, h.stoppedErr()
		}
		return out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("runtime: node %s: request from %s: %w", h.s.ID, client, ctx.Err())
	}
}

// deliver hands an inbound envelope to the loop, waiting for room; it
// returns false once the loop has ended.
func (h *Host) deliver(env nodes.Envelope) bool {
	select {
	case h.events <- event{kind: evMessage, from: env.From, msg: env.Msg}:
		return true
	case <-h.loopDone:
		return false
	}
}

// run is the event loop. Messages to self are queued locally and
// interleaved one for one with channel events, so neither can starve the
// other and the loop never waits on its own channel.
func (h *Host) run() {
	defer h.wg.Done()
	defer close(h.loopDone)
	defer h.closeSubscriptions()
	defer h.stopTimers()
	if !h.safely("start", func() { h.node.Start(h.env) }) {
		return
	}
	close(h.started)
	for {
		select {
		case <-h.quit:
			return
		default:
		}
		if len(h.selfq) > 0 {
			m := h.selfq[0]
			h.selfq[0] = nil
			h.selfq = h.selfq[1:]
			if !h.safely("receive from self", func() { h.node.Receive(h.s.ID, m) }) {
				return
			}
			select {
			case ev := <-h.events:
				if !h.dispatch(ev) {
					return
				}
			default:
			}
			continue
		}
		select {
		case ev := <-h.events:
			if !h.dispatch(ev) {
				return
			}
		case <-h.quit:
			return
		}
	}
}

// dispatch runs one event; it returns false if the node panicked.
func (h *Host) dispatch(ev event) bool {
	switch ev.kind {
	case evMessage:
		return h.safely("receive", func() { h.node.Receive(ev.from, ev.msg) })
	case evTimer:
		e, ok := h.timers[ev.timer]
		if !ok {
			h.c.timersStale.Add(1) // cancelled after its clock ran out
			return true
		}
		delete(h.timers, ev.timer)
		h.c.timersFired.Add(1)
		return h.safely("fire", func() { h.node.Fire(e.timer) })
	case evCall:
		c := ev.call
		if !c.state.CompareAndSwap(callPending, callRunning) {
			return true // the caller gave up before it started
		}
		ok := h.safely(c.what, func() { c.fn(h.node, h.env) })
		if !ok {
			c.err = h.stoppedErr()
		}
		close(c.done)
		return ok
	default:
		panic(fmt.Sprintf("runtime: node %s: event kind %d unknown", h.s.ID, ev.kind))
	}
}

// safely runs fn, turning a panic into the Host's failure: the node's state
// cannot be trusted after a handler died half-way, so the loop ends, as a
// crashed process would.
func (h *Host) safely(what string, fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("runtime: node %s: panic in %s: %v\n%s", h.s.ID, what, r, debug.Stack())
			h.failMu.Lock()
			h.failure = err
			h.failMu.Unlock()
			h.s.logger.Error("node crashed", "in", what, "panic", fmt.Sprint(r))
			ok = false
		}
	}()
	fn()
	return true
}

// stopTimers stops every pending timer when the loop ends. A timer whose
// function already started accounts for itself in h.wg.
func (h *Host) stopTimers() {
	for id, e := range h.timers {
		if e.t.Stop() {
			h.wg.Done()
		}
		delete(h.timers, id)
	}
}

// loopEnv is the nodes.Env a Host gives its node. Apart from ID and Peers,
// its methods must be called only from the loop goroutine, which is where
// node code runs.
type loopEnv struct {
	h   *Host
	rng *rand.Rand
}

var _ nodes.Env = (*loopEnv)(nil)

// ID implements nodes.Env.
func (e *loopEnv) ID() nodes.NodeID { return e.h.s.ID }

// Peers implements nodes.Env: every node, this one included, sorted.
func (e *loopEnv) Peers() []nodes.NodeID { return slices.Clone(e.h.s.ids) }

// Now implements nodes.Env with the wall clock.
func (e *loopEnv) Now() time.Time { return time.Now() }

// Rand implements nodes.Env.
func (e *loopEnv) Rand() *rand.Rand { return e.rng }

// Disk implements nodes.Env.
func (e *loopEnv) Disk() nodes.Disk { return e.h.disk }

// Logf implements nodes.Env: one Info record on the configured logger.
func (e *loopEnv) Logf(format string, args ...any) {
	e.h.s.logger.Info(fmt.Sprintf(format, args...))
}

// SetTimer implements nodes.Env with time.AfterFunc. The function only
// posts the timer's id to the loop; the loop fires the timer only if the id
// is still pending, so a timer cancelled after its clock ran out never
// fires. A negative duration (a node bug) is logged and treated as zero.
func (e *loopEnv) SetTimer(d time.Duration, t nodes.Timer) nodes.TimerID {
	h := e.h
	if d < 0 {
		h.s.logger.Warn("timer with negative duration, firing at once", "timer", t.String(), "duration", d)
		d = 0
	}
	h.nextTimer++
	id := h.nextTimer
	h.wg.Add(1) // released by the function, or by whoever stops the timer first
	tm := time.AfterFunc(d, func() {
		defer h.wg.Done()
		select {
		case h.events <- event{kind: evTimer, timer: id}:
		case <-h.loopDone:
		}
	})
	h.timers[id] = timerEntry{t: tm, timer: t}
	return id
}

// CancelTimer implements nodes.Env.
func (e *loopEnv) CancelTimer(id nodes.TimerID) {
	h := e.h
	entry, ok := h.timers[id]
	if !ok {
		return
	}
	delete(h.timers, id)
	if entry.t.Stop() {
		h.wg.Done()
	}
}

// Send implements nodes.Env. A message to a peer is encoded and queued for
// its connection (never blocking: a full queue drops and counts); a message
// to self goes through the codec and the loop's own queue; a message to a
// local client (a Subscription, or a caller waiting in Request) goes through
// the codec onto its channel. Anything else is dropped and counted.
func (e *loopEnv) Send(to nodes.NodeID, m nodes.Message) {
	h := e.h
	if m == nil {
		h.s.logger.Warn("send of a nil message dropped", "to", string(to))
		h.c.droppedUnknownDest.Add(1)
		return
	}
	if to == h.s.ID {
		e.sendSelf(m)
		return
	}
	if h.tr.links[to] != nil {
		h.enc.Reset()
		nodes.AppendEnvelope(&h.enc, nodes.Envelope{From: h.s.ID, To: to, Msg: m})
		payload := h.enc.Bytes()
		if len(payload) > h.s.MaxFrameBytes {
			h.c.droppedTooLarge.Add(1)
			h.s.logger.Warn("message over frame limit dropped", "to", string(to),
				"type", nodes.TypeName(m.Type()), "bytes", len(payload), "limit", h.s.MaxFrameBytes)
			return
		}
		h.tr.enqueue(to, wire.AppendFrame(make([]byte, 0, wire.FrameHeaderBytes+len(payload)), payload))
		return
	}
	if !h.toSubscriber(to, m) {
		h.c.droppedUnknownDest.Add(1)
		h.s.logger.Debug("send to unknown node dropped", "to", string(to), "type", nodes.TypeName(m.Type()))
	}
}

// sendSelf queues a copy of m (through the codec, as the network would
// copy it) for the loop, bounded by SendQueue.
func (e *loopEnv) sendSelf(m nodes.Message) {
	h := e.h
	if len(h.selfq) >= h.s.SendQueue {
		h.c.droppedQueueFull.Add(1)
		return
	}
	out, err := nodes.RoundTrip(m, &h.scratch)
	if err != nil {
		h.c.decodeErrors.Add(1)
		h.s.logger.Error("message to self failed its codec round trip", "err", err)
		return
	}
	h.selfq = append(h.selfq, out)
	h.c.sentSelf.Add(1)
}
