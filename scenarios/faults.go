package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// DescribeFault names a fault's kind ("crash", "partition", ...) and its
// target, as run records and reports show them.
func DescribeFault(f *spec.Fault) (kind, target string) { return describe(f) }

// describe names a fault's kind and target for records and messages.
func describe(f *spec.Fault) (kind, target string) {
	switch {
	case f.Crash != "":
		return "crash", f.Crash
	case f.Restart != "":
		return "restart", f.Restart
	case f.Pause != "":
		return "pause", f.Pause
	case f.Resume != "":
		return "resume", f.Resume
	case f.Partition != nil:
		return "partition", fmt.Sprint(f.Partition)
	case f.OneWay != nil:
		return "one-way", fmt.Sprintf("%v -> %v", f.OneWay.From, f.OneWay.To)
	case f.Isolate != "":
		return "isolate", f.Isolate
	case f.Bridge != nil:
		return "bridge", fmt.Sprintf("%v <%s> %v", f.Bridge.A, f.Bridge.Node, f.Bridge.B)
	case f.Heal:
		return "heal", ""
	case f.Join != "":
		return "join", f.Join
	case f.Leave != "":
		return "leave", f.Leave
	case f.Clog != nil:
		return "clog", f.Clog.From + "->" + f.Clog.To
	case f.Skew != nil:
		return "skew", f.Skew.Node
	case f.Drift != nil:
		return "drift", f.Drift.Node
	case f.DiskFault != nil:
		return "disk", f.DiskFault.Node
	case f.Loss != nil:
		return "loss", linkName(f.Link)
	case f.Duplicate != nil:
		return "duplicate", linkName(f.Link)
	case f.Reorder != nil:
		return "reorder", linkName(f.Link)
	}
	return "unknown", ""
}

func linkName(l *spec.Link) string {
	if l == nil {
		return "all links"
	}
	return l.From + "->" + l.To
}

// schedule arms fault i: at its time, at the start of its window, or when
// its trigger's event happens.
func (run *Run) schedule(i int, f *spec.Fault) error {
	kind, target := describe(f)
	if kind == "unknown" {
		return fmt.Errorf("no action")
	}
	rec := len(run.faults)
	run.faults = append(run.faults, FaultRecord{Index: i, Line: f.Line, Kind: kind, Target: target, Note: "never applied: its time or trigger never came"})
	fire := func(w *sim.World) { run.apply(rec, f) }
	w := run.World()
	switch {
	case f.At != nil:
		w.At(f.At.D(), kind, fire)
	case f.From != nil:
		w.At(f.From.D(), kind, fire)
	case f.On != nil:
		run.arm(f.On, kind, fire)
	default:
		return fmt.Errorf("no trigger (at, from or on)")
	}
	return nil
}

// arm fires once, at the first event after which the trigger's condition
// holds.
func (run *Run) arm(t *spec.Trigger, kind string, fire func(*sim.World)) {
	fired := false
	run.World().OnEvent(func(w *sim.World) {
		if fired || w.Now() < t.After.D() {
			return
		}
		switch {
		case t.Ops > 0:
			if run.svc.completed() < t.Ops {
				return
			}
		case run.svc.currentLeader() == "":
			return
		}
		fired = true
		w.At(w.Now(), kind, fire)
	})
}

// resolve turns a node name or a role selector (leader(locks),
// follower(locks), random(locks)) into a node, now.
func (run *Run) resolve(target string, wantUp bool) (nodes.NodeID, string) {
	role, _, ok := strings.Cut(target, "(")
	if !ok {
		return nodes.NodeID(target), ""
	}
	leader := run.svc.currentLeader()
	var pool []nodes.NodeID
	for _, id := range run.svc.servers() {
		if run.World().Up(id) != wantUp {
			continue
		}
		switch role {
		case "leader":
			if id == leader {
				pool = append(pool, id)
			}
		case "follower":
			if id != leader {
				pool = append(pool, id)
			}
		default:
			pool = append(pool, id)
		}
	}
	if len(pool) == 0 {
		if role == "leader" {
			return "", "no leader"
		}
		return "", "no " + role + " server is " + map[bool]string{true: "up", false: "down"}[wantUp]
	}
	return pool[run.rng.IntN(len(pool))], ""
}

// apply carries out fault rec now, and schedules its end.
func (run *Run) apply(rec int, f *spec.Fault) {
	w := run.World()
	r := &run.faults[rec]
	r.Start, r.Note = w.Now(), ""
	end, err := run.act(f, r)
	if err != nil {
		r.Applied, r.Note = false, "never applied: "+err.Error()
		return
	}
	r.Applied = true
	if end > 0 {
		r.End = end
	}
}

// after returns now+d if d is set, else 0.
func after(w *sim.World, d *spec.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return w.Now() + d.D()
}

// window returns the end of a windowed fault: its To, or At+For.
func window(w *sim.World, f *spec.Fault) time.Duration {
	if f.To != nil {
		return f.To.D()
	}
	return after(w, f.For)
}

func (run *Run) act(f *spec.Fault, r *FaultRecord) (time.Duration, error) {
	w := run.World()
	switch {
	case f.Crash != "":
		return run.crash(f)
	case f.Restart != "":
		return 0, run.restart(f.Restart)
	case f.Pause != "":
		id, why := run.resolve(f.Pause, true)
		if why != "" {
			return 0, fmt.Errorf("%s", why)
		}
		r.Target = string(id)
		if err := w.Pause(id); err != nil {
			return 0, err
		}
		end := after(w, f.ResumeAfter)
		if end > 0 {
			w.At(end, "resume", func(w *sim.World) { _ = w.Resume(id) })
		}
		return end, nil
	case f.Resume != "":
		return 0, w.Resume(nodes.NodeID(f.Resume))
	case f.Heal:
		w.Heal()
		return 0, nil
	case f.Join != "" || f.Leave != "":
		return 0, run.ringChange(f)
	case f.Skew != nil:
		id, why := run.resolve(f.Skew.Node, true)
		if why != "" {
			return 0, fmt.Errorf("%s", why)
		}
		return 0, w.SkewClock(id, f.Skew.Offset.D())
	case f.Drift != nil:
		id, why := run.resolve(f.Drift.Node, true)
		if why != "" {
			return 0, fmt.Errorf("%s", why)
		}
		return 0, w.SetDrift(id, f.Drift.Rate)
	case f.DiskFault != nil:
		return run.diskFault(f)
	case f.Clog != nil:
		end := window(w, f)
		return end, w.Clog(nodes.NodeID(f.Clog.From), nodes.NodeID(f.Clog.To), f.Clog.Delay.D(), end-w.Now())
	case f.Loss != nil || f.Duplicate != nil || f.Reorder != nil:
		return run.linkWindow(f)
	}
	return run.partition(f, r)
}

func (run *Run) crash(f *spec.Fault) (time.Duration, error) {
	w := run.World()
	id, why := run.resolve(f.Crash, true)
	if why != "" {
		return 0, fmt.Errorf("%s", why)
	}
	run.svc.noteCrash(id)
	if err := w.Crash(id); err != nil {
		return 0, err
	}
	run.crashedBy[f.Crash] = append(run.crashedBy[f.Crash], id)
	end := after(w, f.RestartAfter)
	if end > 0 {
		w.At(end, "restart", func(w *sim.World) { _ = w.Restart(id) })
	}
	return end, nil
}

// restart boots a named node, or every node a selector crashed that is
// still down.
func (run *Run) restart(target string) error {
	w := run.World()
	if !strings.Contains(target, "(") {
		return w.Restart(nodes.NodeID(target))
	}
	n := 0
	for _, id := range slices.Compact(slices.Sorted(slices.Values(run.crashedBy[target]))) {
		if !w.Up(id) && !w.Restarting(id) {
			if err := w.Restart(id); err != nil {
				return err
			}
			n++
		}
	}
	run.crashedBy[target] = nil
	if n == 0 {
		return fmt.Errorf("no node crashed by %s is down", target)
	}
	return nil
}

// cut blocks every link between a and b, both ways, leaving other nodes
// (clients) connected to everyone.
func cut(w *sim.World, a, b []nodes.NodeID) error {
	if err := w.PartitionOneWay(a, b); err != nil {
		return err
	}
	return w.PartitionOneWay(b, a)
}

func ids(names []string) []nodes.NodeID {
	out := make([]nodes.NodeID, len(names))
	for i, n := range names {
		out[i] = nodes.NodeID(n)
	}
	return out
}

func (run *Run) partition(f *spec.Fault, r *FaultRecord) (time.Duration, error) {
	w := run.World()
	switch {
	case f.Partition != nil:
		for i := range f.Partition {
			for j := i + 1; j < len(f.Partition); j++ {
				if err := cut(w, ids(f.Partition[i]), ids(f.Partition[j])); err != nil {
					return 0, err
				}
			}
		}
	case f.OneWay != nil:
		if err := w.PartitionOneWay(ids(f.OneWay.From), ids(f.OneWay.To)); err != nil {
			return 0, err
		}
	case f.Isolate != "":
		id, why := run.resolve(f.Isolate, true)
		if why != "" {
			return 0, fmt.Errorf("%s", why)
		}
		r.Target = string(id)
		if err := w.Isolate(id); err != nil {
			return 0, err
		}
	case f.Bridge != nil:
		if err := cut(w, ids(f.Bridge.A), ids(f.Bridge.B)); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("unknown fault")
	}
	end := after(w, f.HealAfter)
	if end > 0 {
		w.At(end, "heal", func(w *sim.World) { w.Heal() })
	}
	return end, nil
}

// linkWindow raises loss, duplication or reordering on all links or one
// link until the window ends, then puts the previous behaviour back.
func (run *Run) linkWindow(f *spec.Fault) (time.Duration, error) {
	w := run.World()
	var from, to nodes.NodeID
	if f.Link != nil {
		from, to = nodes.NodeID(f.Link.From), nodes.NodeID(f.Link.To)
	} else {
		all := w.Nodes()
		from, to = all[0], all[len(all)-1]
	}
	prev, err := w.Link(from, to)
	if err != nil {
		return 0, err
	}
	cfg := prev
	if f.Loss != nil {
		cfg.Loss = *f.Loss
	}
	if f.Duplicate != nil {
		cfg.Duplicate = *f.Duplicate
	}
	if f.Reorder != nil {
		cfg.Reorder = *f.Reorder
		if cfg.ReorderDelay == 0 {
			cfg.ReorderDelay = 50 * time.Millisecond
		}
	}
	set := func(w *sim.World, c sim.LinkConfig) error {
		if f.Link != nil {
			return w.SetLink(from, to, c)
		}
		return w.SetNetwork(c)
	}
	if err := set(w, cfg); err != nil {
		return 0, err
	}
	end := window(w, f)
	if end > 0 {
		w.At(end, "window-end", func(w *sim.World) { _ = set(w, prev) })
	}
	return end, nil
}

func (run *Run) diskFault(f *spec.Fault) (time.Duration, error) {
	w := run.World()
	id, why := run.resolve(f.DiskFault.Node, true)
	if why != "" {
		return 0, fmt.Errorf("%s", why)
	}
	prev, err := w.DiskConfigOf(id)
	if err != nil {
		return 0, err
	}
	cfg := prev
	cfg.TornWrites, cfg.CorruptRead, cfg.SlowSync = f.DiskFault.TornWrites, f.DiskFault.CorruptRead, f.DiskFault.SlowSync
	if err := w.SetDisk(id, cfg); err != nil {
		return 0, err
	}
	end := window(w, f)
	if end > 0 {
		w.At(end, "disk-heal", func(w *sim.World) { _ = w.SetDisk(id, prev) })
	}
	return end, nil
}

// scheduleSwarm draws this seed's fault mix from the scenario's swarm
// section: each kind on or off, the mean time between faults, and the
// background loss, duplication and reordering.
func (run *Run) scheduleSwarm(seed sim.Seed) error {
	sw := run.Scenario.Swarm
	r := seed.Stream("swarm")
	on := map[string]bool{}
	for _, k := range sw.Faults {
		if r.IntN(2) == 0 {
			on[k] = true
			run.swarm = append(run.swarm, k)
		}
	}
	if len(run.swarm) == 0 && len(sw.Faults) > 0 {
		k := sw.Faults[r.IntN(len(sw.Faults))]
		on[k] = true
		run.swarm = append(run.swarm, k)
	}
	every := sw.Every.Min.D()
	if span := sw.Every.Max.D() - sw.Every.Min.D(); span > 0 {
		every += time.Duration(r.Int64N(int64(span)))
	}
	w := run.World()
	all := w.Nodes()
	base, err := w.Link(all[0], all[len(all)-1])
	if err != nil {
		return err
	}
	draw := func(fr *spec.FloatRange) float64 {
		if fr == nil {
			return 0.05
		}
		return fr.Min + r.Float64()*(fr.Max-fr.Min)
	}
	if on["loss"] {
		base.Loss = draw(sw.Loss)
	}
	if on["duplicate"] {
		base.Duplicate = draw(sw.Duplicate)
	}
	if on["reorder"] {
		base.Reorder, base.ReorderDelay = draw(sw.Reorder), 50*time.Millisecond
	}
	if err := w.SetNetwork(base); err != nil {
		return err
	}
	ch := sim.Chaos{
		Every: every, Crashes: on["crash"], Partitions: on["partition"], Pauses: on["pause"],
		Clogs: on["clog"], Clocks: on["clock"], Disk: on["disk"], Nodes: run.svc.servers(),
	}
	if !(ch.Crashes || ch.Partitions || ch.Pauses || ch.Clogs || ch.Clocks || ch.Disk) {
		return nil
	}
	return ch.Schedule(w, run.Scenario.Duration.D()-settle(run.Scenario))
}
