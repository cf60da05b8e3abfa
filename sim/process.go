package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
)

// Epoch is the wall-clock time that virtual time zero maps to on a node
// whose clock has no offset. It is fixed, so runs do not depend on the day.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// clock maps virtual time to a node's local time: local(t) =
// anchorLocal + (t - anchorVirt) * (1 + drift).
type clock struct {
	anchorVirt  time.Duration
	anchorLocal time.Duration
	drift       float64
}

func (c *clock) local(t time.Duration) time.Duration {
	if c.drift == 0 {
		return c.anchorLocal + (t - c.anchorVirt)
	}
	return c.anchorLocal + time.Duration(float64(t-c.anchorVirt)*(1+c.drift))
}

// virtual converts a local duration into virtual time at the node's drift.
func (c *clock) virtual(d time.Duration) time.Duration {
	if c.drift == 0 {
		return d
	}
	return time.Duration(float64(d) / (1 + c.drift))
}

// process is one simulated node: its node value, its state (up, paused),
// its clock and disk, and the Env it hands to its node.
type process struct {
	w           *World
	idx         int32
	id          nodes.NodeID
	node        nodes.Node
	up          bool
	starting    bool // a start event is scheduled
	paused      bool
	incarnation uint32
	rng         *rand.Rand
	disk        *simDisk
	clock       clock
	cursor      time.Duration // virtual time inside the running handler
	busyUntil   time.Duration // the node cannot start another handler before this
	deferred    []event       // events that arrived while paused
	inbox       []event       // events that arrived while busy, oldest first
	wakeArmed   bool          // a wake event for the inbox is scheduled
}

var _ nodes.Env = (*process)(nil)

// advance charges d of work (disk latency) to the running handler.
func (p *process) advance(d time.Duration) {
	if d > 0 {
		p.cursor += d
	}
}

// ID implements nodes.Env.
func (p *process) ID() nodes.NodeID { return p.id }

// Peers implements nodes.Env.
func (p *process) Peers() []nodes.NodeID { return slices.Clone(p.w.ids) }

// Now implements nodes.Env: virtual time through the node's skewed clock.
func (p *process) Now() time.Time { return Epoch.Add(p.clock.local(p.cursor)) }

// Send implements nodes.Env.
func (p *process) Send(to nodes.NodeID, m nodes.Message) {
	ti, ok := p.w.index[to]
	if !ok {
		// As a real network would: the message goes nowhere. Counted and
		// traced, so a node that addresses a wrong id shows up.
		p.w.net.stats.DroppedUnknown++
		p.w.traceNode(TraceDrop, p.idx, -1, fmt.Sprintf("%s to unknown node %q", nodes.TypeName(m.Type()), to))
		return
	}
	p.w.send(p.idx, ti, p.cursor, m)
}

// SetTimer implements nodes.Env: d is local time, so a drifting clock fires
// early or late in virtual time.
func (p *process) SetTimer(d time.Duration, t nodes.Timer) nodes.TimerID {
	if d < 0 {
		panic(fmt.Sprintf("sim: node %s set timer %v with negative duration %v", p.id, t, d))
	}
	return p.w.setTimer(p, p.cursor+p.clock.virtual(d), t)
}

// CancelTimer implements nodes.Env.
func (p *process) CancelTimer(id nodes.TimerID) { p.w.cancelTimer(p, id) }

// Rand implements nodes.Env.
func (p *process) Rand() *rand.Rand { return p.rng }

// Disk implements nodes.Env.
func (p *process) Disk() nodes.Disk { return p.disk }

// Logf implements nodes.Env: the line goes into the trace.
func (p *process) Logf(format string, args ...any) {
	p.w.traceNode(TraceLog, p.idx, -1, fmt.Sprintf(format, args...))
}

// timerSlot is one pending timer. Cancelling bumps gen, so the event still
// in the heap is recognised as stale when popped: no scan of the heap.
type timerSlot struct {
	timer nodes.Timer
	node  int32
	inc   uint32
	gen   uint32
	live  bool
}

func (w *World) setTimer(p *process, at time.Duration, t nodes.Timer) nodes.TimerID {
	var slot uint32
	if n := len(w.freeTimers); n > 0 {
		slot = w.freeTimers[n-1]
		w.freeTimers = w.freeTimers[:n-1]
	} else {
		slot = uint32(len(w.timers))
		w.timers = append(w.timers, timerSlot{})
	}
	s := &w.timers[slot]
	s.gen++
	s.timer, s.node, s.inc, s.live = t, p.idx, p.incarnation, true
	id := uint64(s.gen)<<32 | uint64(slot+1)
	w.push(event{at: at, kind: evTimer, node: p.idx, ref: id})
	return nodes.TimerID(id)
}

// timerSlotOf returns the slot of a timer id if the id is still current.
func (w *World) timerSlotOf(id uint64) (*timerSlot, uint32, bool) {
	slot := uint32(id&0xffffffff) - 1
	if int(slot) >= len(w.timers) {
		return nil, 0, false
	}
	s := &w.timers[slot]
	if !s.live || s.gen != uint32(id>>32) {
		return nil, 0, false
	}
	return s, slot, true
}

func (w *World) cancelTimer(p *process, id nodes.TimerID) {
	s, slot, ok := w.timerSlotOf(uint64(id))
	if !ok || s.node != p.idx || s.inc != p.incarnation {
		return
	}
	s.live = false
	w.freeTimers = append(w.freeTimers, slot)
}
