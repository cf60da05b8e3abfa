package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/distsync/distsync/nodes"
)

// Chaos is a random fault schedule: which fault kinds are on, and how often.
// It is the kernel's own nemesis, used by the determinism tests and the
// demo; scenario files build richer schedules on the same World methods.
type Chaos struct {
	Every      time.Duration // mean time between faults (exponential gaps)
	Crashes    bool          // crash a node, restart it after up to Every
	Partitions bool          // groups, one-way, isolate or bridge, healed after up to Every
	Pauses     bool          // pause a node, resume it after up to Every
	Clogs      bool          // delay spike on one link
	Clocks     bool          // clock skew and drift
	Disk       bool          // torn writes at crashes, corrupt reads, slow syncs
	// Nodes are the nodes faults may hit (default: every node). A test
	// that checks client histories keeps its clients out of it.
	Nodes []nodes.NodeID
}

// AllFaults turns every fault kind on, one fault every `every` on average.
func AllFaults(every time.Duration) Chaos {
	return Chaos{Every: every, Crashes: true, Partitions: true, Pauses: true, Clogs: true, Clocks: true, Disk: true}
}

// Schedule draws a fault schedule for [0, horizon) from the world's
// "faults" stream and schedules it. Every fault ends (heal, restart,
// resume) before horizon, so a run can check liveness at its end.
func (c Chaos) Schedule(w *World, horizon time.Duration) error {
	if c.Every <= 0 {
		return fmt.Errorf("chaos.every: %v must be positive", c.Every)
	}
	r := w.cfg.Seed.Stream("faults")
	targets := w.ids
	if len(c.Nodes) > 0 {
		idx, err := w.indices("chaos.nodes", c.Nodes)
		if err != nil {
			return err
		}
		targets = make([]nodes.NodeID, len(idx))
		for i, x := range idx {
			targets[i] = w.ids[x]
		}
	}
	var kinds []func(t, end time.Duration)
	if c.Crashes {
		kinds = append(kinds, func(t, end time.Duration) { c.crash(w, r, targets, t, end) })
	}
	if c.Partitions {
		kinds = append(kinds, func(t, end time.Duration) { c.partition(w, r, targets, t, end) })
	}
	if c.Pauses {
		kinds = append(kinds, func(t, end time.Duration) { c.pause(w, r, targets, t, end) })
	}
	if c.Clogs {
		kinds = append(kinds, func(t, end time.Duration) {
			a, b := targets[r.IntN(len(targets))], targets[r.IntN(len(targets))]
			delay, window := time.Duration(r.Int64N(int64(c.Every))), end-t
			w.At(t, "clog", func(w *World) { _ = w.Clog(a, b, delay, window) })
		})
	}
	if c.Clocks {
		kinds = append(kinds, func(t, end time.Duration) {
			id := targets[r.IntN(len(targets))]
			skew := time.Duration(r.Int64N(int64(2*c.Every))) - c.Every
			drift := (r.Float64() - 0.5) * 0.2
			w.At(t, "clock", func(w *World) { _ = w.SkewClock(id, skew); _ = w.SetDrift(id, drift) })
		})
	}
	if c.Disk {
		kinds = append(kinds, func(t, end time.Duration) {
			id := targets[r.IntN(len(targets))]
			cfg := w.cfg.Disk
			cfg.TornWrites, cfg.CorruptRead, cfg.SlowSync = r.Float64(), r.Float64()*0.01, 1+r.Float64()*20
			w.At(t, "disk", func(w *World) { _ = w.SetDisk(id, cfg) })
			w.At(end, "disk-heal", func(w *World) { _ = w.SetDisk(id, w.cfg.Disk) })
		})
	}
	if len(kinds) == 0 {
		return nil
	}
	for t := time.Duration(0); ; {
		t += time.Duration(r.ExpFloat64() * float64(c.Every))
		end := t + time.Duration(r.Int64N(int64(c.Every))+1)
		if end >= horizon {
			return nil
		}
		kinds[r.IntN(len(kinds))](t, end)
	}
}

func (c Chaos) crash(w *World, r *rand.Rand, targets []nodes.NodeID, t, end time.Duration) {
	id := targets[r.IntN(len(targets))]
	w.At(t, "crash", func(w *World) {
		if w.Up(id) {
			_ = w.Crash(id)
			w.At(end, "restart", func(w *World) { _ = w.Restart(id) })
		}
	})
}

func (c Chaos) pause(w *World, r *rand.Rand, targets []nodes.NodeID, t, end time.Duration) {
	id := targets[r.IntN(len(targets))]
	w.At(t, "pause", func(w *World) {
		if w.Pause(id) == nil {
			w.At(end, "resume", func(w *World) { _ = w.Resume(id) })
		}
	})
}

func (c Chaos) partition(w *World, r *rand.Rand, targets []nodes.NodeID, t, end time.Duration) {
	ids := append([]nodes.NodeID(nil), targets...)
	r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	cut := 1 + r.IntN(max(1, len(ids)-1))
	var apply func(w *World) error
	switch r.IntN(4) {
	case 0:
		if len(targets) == len(w.ids) {
			apply = func(w *World) error { return w.Partition([][]nodes.NodeID{ids[:cut], ids[cut:]}) }
			break
		}
		// Cut the targets in two without cutting the other nodes off.
		apply = func(w *World) error {
			if err := w.PartitionOneWay(ids[:cut], ids[cut:]); err != nil {
				return err
			}
			return w.PartitionOneWay(ids[cut:], ids[:cut])
		}
	case 1:
		apply = func(w *World) error { return w.PartitionOneWay(ids[:cut], ids[cut:]) }
	case 2:
		apply = func(w *World) error { return w.Isolate(ids[0]) }
	default:
		if len(ids) < 3 || len(targets) != len(w.ids) {
			apply = func(w *World) error { return w.Isolate(ids[0]) }
			break
		}
		mid := 1 + r.IntN(len(ids)-2)
		apply = func(w *World) error { return w.Bridge(ids[:mid], ids[mid], ids[mid+1:]) }
	}
	w.At(t, "partition", func(w *World) { _ = apply(w) })
	w.At(end, "heal", func(w *World) { w.Heal() })
}
