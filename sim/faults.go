package sim

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
)

func (w *World) proc(field string, id nodes.NodeID) (*process, error) {
	i, ok := w.index[id]
	if !ok {
		return nil, fmt.Errorf("%s: unknown node %q", field, id)
	}
	return w.procs[i], nil
}

// Crash stops a node at once: its volatile state and timers are gone, the
// messages on their way to it are dropped when they arrive, and its disk
// keeps only what was synced (possibly with a torn prefix of the last
// unsynced write, if the disk is configured for torn writes).
func (w *World) Crash(id nodes.NodeID) error {
	p, err := w.proc("crash", id)
	if err != nil {
		return err
	}
	if !p.up {
		return fmt.Errorf("crash %s: node is already down", id)
	}
	p.up, p.paused, p.node = false, false, nil
	for _, e := range append(p.deferred, p.inbox...) {
		if s, slot, ok := w.timerSlotOf(e.ref); ok && e.kind == evTimer {
			s.live = false
			w.freeTimers = append(w.freeTimers, slot)
		}
	}
	p.deferred, p.inbox, p.wakeArmed = p.deferred[:0], nil, false
	p.incarnation++
	p.busyUntil = w.now
	p.disk.crash()
	w.stats.Crashes++
	w.traceNode(TraceCrash, p.idx, -1, "")
	return nil
}

// Restart boots a crashed node again, now: a fresh node value from the
// factory, started on the same disk.
func (w *World) Restart(id nodes.NodeID) error {
	p, err := w.proc("restart", id)
	if err != nil {
		return err
	}
	if p.up {
		return fmt.Errorf("restart %s: node is up (restart needs a crash first)", id)
	}
	if p.starting {
		return fmt.Errorf("restart %s: node is already restarting", id)
	}
	p.starting = true
	w.stats.Restarts++
	w.push(event{at: w.now, kind: evStart, node: p.idx})
	return nil
}

// Restarting reports whether a restart of id is scheduled and not yet
// done.
func (w *World) Restarting(id nodes.NodeID) bool {
	i, ok := w.index[id]
	return ok && w.procs[i].starting
}

// Pause stalls a node, as a long GC pause or a SIGSTOP would: it handles
// nothing, and messages and timers wait for Resume. Its clock keeps going.
func (w *World) Pause(id nodes.NodeID) error {
	p, err := w.proc("pause", id)
	if err != nil {
		return err
	}
	if !p.up || p.paused {
		return fmt.Errorf("pause %s: node is down or already paused", id)
	}
	p.paused = true
	w.stats.Pauses++
	w.traceNode(TracePause, p.idx, -1, "")
	return nil
}

// Resume ends a pause: everything that waited is handled now, in the order
// it arrived.
func (w *World) Resume(id nodes.NodeID) error {
	p, err := w.proc("resume", id)
	if err != nil {
		return err
	}
	if !p.paused {
		return fmt.Errorf("resume %s: node is not paused", id)
	}
	p.paused = false
	w.traceNode(TraceResume, p.idx, -1, fmt.Sprintf("%d deferred", len(p.deferred)))
	for _, e := range p.deferred {
		e.at = w.now
		w.push(e)
	}
	p.deferred = p.deferred[:0]
	return nil
}

// MaxDrift bounds clock drift: a clock runs at (1 + drift) times real speed.
const MaxDrift = 0.5

// SkewClock jumps a node's clock by offset (forwards or backwards), as an
// NTP step would.
func (w *World) SkewClock(id nodes.NodeID, offset time.Duration) error {
	p, err := w.proc("clock", id)
	if err != nil {
		return err
	}
	p.clock.anchorLocal = p.clock.local(w.now) + offset
	p.clock.anchorVirt = w.now
	w.stats.ClockFaults++
	w.traceNode(TraceFault, p.idx, -1, fmt.Sprintf("clock skew %v", offset))
	return nil
}

// SetDrift makes a node's clock run at (1 + drift) times the speed of
// virtual time from now on; |drift| <= MaxDrift.
func (w *World) SetDrift(id nodes.NodeID, drift float64) error {
	p, err := w.proc("clock", id)
	if err != nil {
		return err
	}
	if !(drift >= -MaxDrift && drift <= MaxDrift) {
		return fmt.Errorf("clock %s: drift %v outside [-%v, %v]", id, drift, MaxDrift, MaxDrift)
	}
	p.clock.anchorLocal = p.clock.local(w.now)
	p.clock.anchorVirt = w.now
	p.clock.drift = drift
	w.stats.ClockFaults++
	w.traceNode(TraceFault, p.idx, -1, fmt.Sprintf("clock drift %v", drift))
	return nil
}

// LocalTime returns node id's clock reading at the current virtual time.
func (w *World) LocalTime(id nodes.NodeID) (time.Time, error) {
	p, err := w.proc("clock", id)
	if err != nil {
		return time.Time{}, err
	}
	return Epoch.Add(p.clock.local(w.now)), nil
}

// SetDisk changes a node's disk behaviour from now on (slow syncs, torn
// writes at the next crash, corrupt reads).
func (w *World) SetDisk(id nodes.NodeID, cfg DiskConfig) error {
	p, err := w.proc("disk", id)
	if err != nil {
		return err
	}
	if err := cfg.Validate(fmt.Sprintf("disk[%s]", id)); err != nil {
		return err
	}
	if cfg.SectorBytes == 0 {
		cfg.SectorBytes = 512
	}
	p.disk.cfg = cfg
	w.traceNode(TraceFault, p.idx, -1, fmt.Sprintf("disk %+v", cfg))
	return nil
}

// DiskConfigOf returns a node's current disk behaviour.
func (w *World) DiskConfigOf(id nodes.NodeID) (DiskConfig, error) {
	p, err := w.proc("disk", id)
	if err != nil {
		return DiskConfig{}, err
	}
	return p.disk.cfg, nil
}

// NodeDisk returns a node's disk, for tests and checkers that inspect what
// is stored. Writing to it from outside the node breaks determinism of
// nothing, but bypasses latency accounting.
func (w *World) NodeDisk(id nodes.NodeID) (nodes.Disk, error) {
	p, err := w.proc("disk", id)
	if err != nil {
		return nil, err
	}
	return p.disk, nil
}

// Inject delivers m to node id now, as a message from itself: the
// operator's control plane (a ring change, an admin command), which no
// network fault delays or drops. It is traced like any delivery. The node
// must be up.
func (w *World) Inject(id nodes.NodeID, m nodes.Message) error {
	p, err := w.proc("inject", id)
	if err != nil {
		return err
	}
	if !p.up {
		return fmt.Errorf("inject %s into %s: node is down", nodes.TypeName(m.Type()), id)
	}
	w.msgSeq++
	w.traceMsg(TraceSend, p.idx, p.idx, m, w.msgSeq)
	w.push(event{at: w.now, kind: evDeliver, node: p.idx, from: p.idx, msg: m, ref: w.msgSeq, inc: p.incarnation})
	return nil
}
