// Package sim is distsync's deterministic world: a virtual clock, a
// single-threaded scheduler, a simulated network and disk, process and clock
// faults, a trace with a running hash, and observers that check invariants
// after every event.
//
// One Seed gives one run, bit for bit: every random draw comes from a named
// sub-stream of the seed, and events are ordered by (virtual time, sequence
// number) and nothing else.
package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// Config describes a world.
type Config struct {
	Seed    Seed
	Nodes   []nodes.NodeID // the cluster, in any order (kept sorted)
	Factory nodes.Factory  // builds a node value at boot and after each crash
	Network LinkConfig     // every link's behaviour at the start
	Disk    DiskConfig     // every node's disk
	// TraceKeep is how many recent trace records stay in memory
	// (default DefaultTraceKeep).
	TraceKeep int
	// MaxEvents stops a run that processes more events than this
	// (default 100 million): an explicit bound on the main loop.
	MaxEvents uint64
	// WireCheck round-trips every message through the TCP codec before
	// delivering the decoded copy, so codec bugs show up in simulation.
	WireCheck bool
}

// DefaultMaxEvents is the default bound on the events of one run.
const DefaultMaxEvents = 100_000_000

// Validate reports a configuration the world cannot run, naming the field.
func (c *Config) Validate() error {
	if len(c.Nodes) == 0 {
		return errors.New("nodes: at least one node is needed")
	}
	if len(c.Nodes) > 1024 {
		return fmt.Errorf("nodes: %d nodes, at most 1024", len(c.Nodes))
	}
	seen := make(map[nodes.NodeID]bool, len(c.Nodes))
	for i, id := range c.Nodes {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("nodes[%d]: %w", i, err)
		}
		if seen[id] {
			return fmt.Errorf("nodes[%d]: %q listed twice", i, id)
		}
		seen[id] = true
	}
	if c.Factory == nil {
		return errors.New("factory: nil")
	}
	if err := c.Network.Validate("network"); err != nil {
		return err
	}
	if err := c.Disk.Validate("disk"); err != nil {
		return err
	}
	if c.TraceKeep < 0 {
		return fmt.Errorf("trace_keep: negative %d", c.TraceKeep)
	}
	return nil
}

// Checker inspects the world after an event and returns an error if an
// invariant is broken. Checkers must not change the world.
type Checker func(w *World) error

// Violation is the first broken invariant of a run: where and when.
type Violation struct {
	Checker string
	At      time.Duration
	Event   uint64
	Err     error
}

// Error implements error.
func (v *Violation) Error() string {
	return fmt.Sprintf("%s at t=%v (event %d): %v", v.Checker, v.At, v.Event, v.Err)
}

// Unwrap returns the checker's error.
func (v *Violation) Unwrap() error { return v.Err }

// Stats counts what happened in a run.
type Stats struct {
	Events      uint64
	Net         NetStats
	Disk        DiskStats
	Timers      uint64
	Crashes     uint64
	Restarts    uint64
	Pauses      uint64
	Partitions  uint64
	ClockFaults uint64
}

type namedChecker struct {
	name  string
	check Checker
}

type action struct {
	name string
	fn   func(*World)
}

// World is one simulated run.
type World struct {
	cfg        Config
	ids        []nodes.NodeID // sorted
	index      map[nodes.NodeID]int32
	procs      []*process
	heap       eventHeap
	now        time.Duration
	seq        uint64
	msgSeq     uint64
	eventNo    uint64
	net        *network
	timers     []timerSlot
	freeTimers []uint32
	actions    []action
	checkers   []namedChecker
	observers  []func(*World)
	trace      *Trace
	stats      Stats
	violation  *Violation
	scratch    wire.Encoder
	cur        int32 // node whose handler runs, -1 outside handlers
	draining   int32 // node whose inbox event is being dispatched, -1 if none
}

// New builds a world from cfg and schedules every node's Start at time 0.
func New(cfg Config) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim config: %w", err)
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	ids := slices.Clone(cfg.Nodes)
	slices.Sort(ids)
	w := &World{
		cfg:      cfg,
		ids:      ids,
		index:    make(map[nodes.NodeID]int32, len(ids)),
		trace:    newTrace(cfg.TraceKeep),
		cur:      -1,
		draining: -1,
	}
	w.net = newNetwork(len(ids), cfg.Network, cfg.Seed.Stream("network"))
	for i, id := range ids {
		w.index[id] = int32(i)
		p := &process{w: w, idx: int32(i), id: id, rng: cfg.Seed.Stream("node/" + string(id))}
		p.disk = newSimDisk(cfg.Disk, cfg.Seed.Stream("disk/"+string(id)), p)
		w.procs = append(w.procs, p)
		w.push(event{at: 0, kind: evStart, node: int32(i)})
	}
	return w, nil
}

// Now returns the current virtual time (since the start of the run).
func (w *World) Now() time.Duration { return w.now }

// Seed returns the run's seed.
func (w *World) Seed() Seed { return w.cfg.Seed }

// Nodes returns the node ids, sorted.
func (w *World) Nodes() []nodes.NodeID { return slices.Clone(w.ids) }

// Node returns the live node value of id, or nil if id is down or unknown.
// Checkers use it to inspect node state.
func (w *World) Node(id nodes.NodeID) nodes.Node {
	i, ok := w.index[id]
	if !ok || !w.procs[i].up {
		return nil
	}
	return w.procs[i].node
}

// Up reports whether id is running (paused nodes are up).
func (w *World) Up(id nodes.NodeID) bool {
	i, ok := w.index[id]
	return ok && w.procs[i].up
}

// Trace returns the run's trace.
func (w *World) Trace() *Trace { return w.trace }

// Stats returns the counters so far.
func (w *World) Stats() Stats {
	s := w.stats
	s.Net = w.net.stats
	s.Disk = DiskStats{}
	for _, p := range w.procs {
		s.Disk.add(p.disk.stats)
	}
	return s
}

// DiskStats returns one node's disk counters.
func (w *World) DiskStats(id nodes.NodeID) (DiskStats, error) {
	i, ok := w.index[id]
	if !ok {
		return DiskStats{}, fmt.Errorf("disk stats: unknown node %q", id)
	}
	return w.procs[i].disk.stats, nil
}

// Violation returns the invariant violation that stopped the run, if any.
func (w *World) Violation() *Violation { return w.violation }

// AddChecker registers an invariant checked after every event.
func (w *World) AddChecker(name string, c Checker) {
	w.checkers = append(w.checkers, namedChecker{name: name, check: c})
}

// OnEvent registers fn to run after every event, after the checkers.
// Unlike a checker it may change the world: event-triggered faults
// ("crash the leader once one is elected") are scheduled from here.
func (w *World) OnEvent(fn func(*World)) { w.observers = append(w.observers, fn) }

// SetMessageDescriber sets how messages are rendered in the JSON Lines
// trace (by default with %+v).
func (w *World) SetMessageDescriber(f func(nodes.Message) string) { w.trace.describe = f }

// At schedules fn to run at virtual time t (not before now). Fault
// injection uses it; fn may call any World method.
func (w *World) At(t time.Duration, name string, fn func(*World)) {
	if t < w.now {
		t = w.now
	}
	w.actions = append(w.actions, action{name: name, fn: fn})
	w.push(event{at: t, kind: evAction, ref: uint64(len(w.actions) - 1), node: -1})
}

func (w *World) push(e event) {
	w.seq++
	e.seq = w.seq
	w.heap.push(e)
}

// Pending returns how many events wait in the scheduler.
func (w *World) Pending() int { return w.heap.Len() }

// ErrMaxEvents stops a run that exceeded Config.MaxEvents.
var ErrMaxEvents = errors.New("sim: event limit reached")

// Run processes events until virtual time until, until no event is left,
// or until a checker reports a violation (returned as *Violation).
func (w *World) Run(until time.Duration) error {
	for w.heap.Len() > 0 && w.heap.peek().at <= until {
		if err := w.Step(); err != nil {
			return err
		}
	}
	if w.now < until {
		w.now = until
	}
	return nil
}

// Step processes one event and runs the checkers.
func (w *World) Step() error {
	if w.violation != nil {
		return w.violation
	}
	if w.heap.Len() == 0 {
		return nil
	}
	if w.eventNo >= w.cfg.MaxEvents {
		return fmt.Errorf("%w: %d events at t=%v", ErrMaxEvents, w.eventNo, w.now)
	}
	e := w.heap.pop()
	if e.at < w.now {
		panic(fmt.Sprintf("sim: time went backwards: event %d (%s, seq %d) at %v, now %v", w.eventNo, e.kind, e.seq, e.at, w.now))
	}
	w.now = e.at
	w.eventNo++
	w.stats.Events++
	w.dispatch(&e)
	if err := w.check(); err != nil {
		return err
	}
	for _, fn := range w.observers {
		fn(w)
	}
	return nil
}

func (w *World) check() error {
	for _, c := range w.checkers {
		if err := c.check(w); err != nil {
			w.violation = &Violation{Checker: c.name, At: w.now, Event: w.eventNo, Err: err}
			return w.violation
		}
	}
	return nil
}

func (w *World) dispatch(e *event) {
	switch e.kind {
	case evAction:
		a := w.actions[e.ref]
		w.actions[e.ref].fn = nil
		a.fn(w)
	case evStart:
		w.start(w.procs[e.node])
	case evDeliver:
		w.deliver(e)
	case evTimer:
		w.fire(e)
	case evWake:
		w.wake(e)
	default:
		panic(fmt.Sprintf("sim: event %d has unknown kind %d", w.eventNo, e.kind))
	}
}

// hold reports whether p cannot run e now, and if so defers e: to the end of
// p's busy time, or until p is resumed.
func (w *World) hold(p *process, e *event) bool {
	if p.paused {
		p.deferred = append(p.deferred, *e)
		return true
	}
	if w.draining == p.idx {
		return false // taken from the node's inbox: its turn has come
	}
	if p.busyUntil > w.now || len(p.inbox) > 0 {
		// The node is busy (syncing): the event waits in its inbox, in
		// arrival order, and one wake event takes them out one by one. An
		// event is never pushed back into the heap again and again.
		p.inbox = append(p.inbox, *e)
		w.armWake(p)
		return true
	}
	return false
}

// armWake schedules the wake event that hands p its next inbox event.
func (w *World) armWake(p *process) {
	if p.wakeArmed {
		return
	}
	p.wakeArmed = true
	w.push(event{at: max(p.busyUntil, w.now), kind: evWake, node: p.idx, inc: p.incarnation})
}

// wake hands the node the oldest event of its inbox, once it is free.
func (w *World) wake(e *event) {
	p := w.procs[e.node]
	if e.inc != p.incarnation {
		return // armed before a crash, which emptied the inbox
	}
	p.wakeArmed = false
	switch {
	case len(p.inbox) == 0:
		return
	case p.paused:
		p.deferred = append(p.deferred, p.inbox...)
		p.inbox = p.inbox[:0]
		return
	case p.busyUntil > w.now:
		w.armWake(p)
		return
	}
	next := p.inbox[0]
	p.inbox = p.inbox[1:]
	if len(p.inbox) == 0 {
		p.inbox = nil
	}
	w.draining = p.idx
	w.dispatch(&next)
	w.draining = -1
	if len(p.inbox) > 0 && p.incarnation == e.inc {
		w.armWake(p)
	}
}

// enter and leave bracket a node's handler: the cursor starts at now and
// disk latency moves it on; the node is busy until the cursor.
func (w *World) enter(p *process) {
	p.cursor = w.now
	w.cur = p.idx
}

func (w *World) leave(p *process) {
	p.busyUntil = p.cursor
	w.cur = -1
}

func (w *World) start(p *process) {
	if p.up {
		panic(fmt.Sprintf("sim: start of node %s which is already up (incarnation %d)", p.id, p.incarnation))
	}
	p.up, p.starting = true, false
	p.node = w.cfg.Factory(p.id)
	w.traceNode(TraceStart, p.idx, -1, fmt.Sprintf("incarnation %d", p.incarnation))
	w.enter(p)
	p.node.Start(p)
	w.leave(p)
}

func (w *World) deliver(e *event) {
	p := w.procs[e.node]
	if w.draining != e.node { // (a message from the inbox arrived earlier and passed these)
		if !p.up || e.inc != p.incarnation {
			// The target is down, or crashed and restarted since the
			// message was sent: the connection it was sent on is gone.
			w.net.stats.DroppedDead++
			w.traceMsg(TraceDead, e.node, e.from, e.msg, e.ref)
			return
		}
		if w.net.link(e.from, e.node).blocked {
			w.net.stats.DroppedPartition++
			w.traceMsg(TraceDrop, e.node, e.from, e.msg, e.ref)
			return
		}
		if w.hold(p, e) {
			return
		}
	}
	w.net.stats.Delivered++
	w.traceMsg(TraceDeliver, e.node, e.from, e.msg, e.ref)
	m := e.msg
	if w.cfg.WireCheck {
		var err error
		if m, err = nodes.RoundTrip(m, &w.scratch); err != nil {
			panic(fmt.Sprintf("sim: event %d at %v: %v", w.eventNo, w.now, err))
		}
		w.trace.foldBytes(w.scratch.Bytes())
		w.net.stats.WireChecked++
	}
	w.enter(p)
	p.node.Receive(w.procs[e.from].id, m)
	w.leave(p)
}

func (w *World) fire(e *event) {
	s, slot, ok := w.timerSlotOf(e.ref)
	if !ok {
		return // cancelled
	}
	p := w.procs[s.node]
	if s.inc != p.incarnation {
		s.live = false // set by an earlier incarnation: gone with the crash
		w.freeTimers = append(w.freeTimers, slot)
		return
	}
	if !p.up {
		panic(fmt.Sprintf("sim: timer %v of node %s incarnation %d fires at %v but the node is down", s.timer, p.id, s.inc, w.now))
	}
	if w.hold(p, e) {
		return
	}
	t := s.timer
	s.live = false
	w.freeTimers = append(w.freeTimers, slot)
	w.stats.Timers++
	w.traceNode(TraceTimer, p.idx, -1, t.Kind)
	w.enter(p)
	p.node.Fire(t)
	w.leave(p)
}

// send hands m to the network at virtual time at.
func (w *World) send(from, to int32, at time.Duration, m nodes.Message) {
	w.msgSeq++
	id := w.msgSeq
	w.traceMsg(TraceSend, from, to, m, id)
	arrive, dupAt, lost := w.net.route(from, to, at)
	if lost {
		w.traceMsg(TraceDrop, from, to, m, id)
		return
	}
	inc := w.procs[to].incarnation
	w.push(event{at: arrive, kind: evDeliver, node: to, from: from, msg: m, ref: id, inc: inc})
	if dupAt >= 0 {
		w.traceMsg(TraceDuplicate, from, to, m, id)
		w.push(event{at: dupAt, kind: evDeliver, node: to, from: from, msg: m, ref: id, inc: inc})
	}
}

func (w *World) traceMsg(k TraceKind, node, peer int32, m nodes.Message, id uint64) {
	r := Record{Event: w.eventNo, At: w.now, Kind: k, Node: w.procs[node].id, Peer: w.procs[peer].id, Msg: m.Type(), MsgID: id}
	w.trace.add(&r, node, peer, m)
}

func (w *World) traceNode(k TraceKind, node, peer int32, text string) {
	r := Record{Event: w.eventNo, At: w.now, Kind: k, Node: w.procs[node].id, Text: text}
	if peer >= 0 {
		r.Peer = w.procs[peer].id
	}
	w.trace.add(&r, node, peer, nil)
}

func (w *World) traceFault(text string) {
	r := Record{Event: w.eventNo, At: w.now, Kind: TraceFault, Text: text}
	w.trace.add(&r, -1, -1, nil)
}
