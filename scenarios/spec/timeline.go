package spec

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// tlEvent is a crash, restart, pause or resume on the timeline.
type tlEvent struct {
	at     time.Duration
	idx    int    // the fault
	auto   bool   // the end a fault's restart_after or resume_after brings
	kind   string // crash, restart, pause, resume
	target string
}

// timeline plays the faults triggered at a time in order, and rejects a
// restart of a node that is not down, a resume of one that is not paused,
// and a crash or pause of a node already down. A selector's target, and
// the time of an event-triggered fault, are unknown until the run: they
// make such a restart or resume possible, not certain.
func (v *validator) timeline() *Error {
	var evs []tlEvent
	for i := range v.s.Faults {
		f := &v.s.Faults[i]
		if f.At == nil {
			if err := v.triggered(i, f); err != nil {
				return err
			}
			continue
		}
		t := f.At.D()
		add := func(kind, target string, after *Duration) {
			evs = append(evs, tlEvent{at: t, idx: i, kind: kind, target: target})
			if after != nil {
				evs = append(evs, tlEvent{at: t + after.D(), idx: i, auto: true, kind: map[string]string{"crash": "restart", "pause": "resume"}[kind], target: target})
			}
		}
		switch {
		case f.Crash != "":
			add("crash", f.Crash, f.RestartAfter)
		case f.Restart != "":
			add("restart", f.Restart, nil)
		case f.Pause != "":
			add("pause", f.Pause, f.ResumeAfter)
		case f.Resume != "":
			add("resume", f.Resume, nil)
		}
	}
	slices.SortStableFunc(evs, func(a, b tlEvent) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.idx, b.idx)) })

	type state struct {
		by   int  // the fault that brought it
		auto bool // that fault ends it by itself
	}
	down, paused := map[string]state{}, map[string]state{}
	maybeDown, maybePaused := map[string]bool{}, map[string]bool{}
	for _, e := range evs {
		p := fmt.Sprintf("faults[%d].%s", e.idx, e.kind)
		f := &v.s.Faults[e.idx]
		sel := isSelector(e.target)
		switch {
		case e.auto && e.kind == "restart":
			delete(down, e.target)
		case e.auto:
			delete(paused, e.target)
		case e.kind == "crash" && sel:
			maybeDown[e.target] = true
			for _, id := range v.servers {
				maybeDown[id] = true
			}
		case e.kind == "crash":
			if st, ok := down[e.target]; ok {
				return v.errf(p, "%s is already down at %v (faults[%d] crashed it)", e.target, e.at, st.by)
			}
			down[e.target] = state{e.idx, f.RestartAfter != nil}
			delete(paused, e.target)
		case e.kind == "pause" && sel:
			for _, id := range v.servers {
				maybePaused[id] = true
			}
		case e.kind == "pause":
			if st, ok := down[e.target]; ok {
				return v.errf(p, "%s is down at %v (faults[%d] crashed it)", e.target, e.at, st.by)
			}
			if st, ok := paused[e.target]; ok {
				return v.errf(p, "%s is already paused at %v (by faults[%d])", e.target, e.at, st.by)
			}
			paused[e.target] = state{e.idx, f.ResumeAfter != nil}
		case e.kind == "restart":
			st, ok := down[e.target]
			switch {
			case ok && st.auto:
				return v.errf(p, "%s restarts by itself: faults[%d] has restart_after", e.target, st.by)
			case ok:
				delete(down, e.target)
			case !maybeDown[e.target] && !v.eventBefore(e.idx, e.target, crashOf):
				if sel {
					return v.errf(p, "no earlier crash: %s: restarting a selector restarts what an earlier crash of it took down", e.target)
				}
				return v.errf(p, "%s is not down at %v: a restart needs an earlier crash of %s", e.target, e.at, e.target)
			}
		case e.kind == "resume":
			st, ok := paused[e.target]
			switch {
			case ok && st.auto:
				return v.errf(p, "%s resumes by itself: faults[%d] has resume_after", e.target, st.by)
			case ok:
				delete(paused, e.target)
			case !maybePaused[e.target] && !v.eventBefore(e.idx, e.target, pauseOf):
				return v.errf(p, "%s is not paused at %v: a resume needs an earlier pause of %s", e.target, e.at, e.target)
			}
		}
	}
	return nil
}

func crashOf(f *Fault) string { return f.Crash }
func pauseOf(f *Fault) string { return f.Pause }

// triggered checks an event-triggered restart or resume: its time is
// unknown, so an earlier entry of the file must crash or pause its target.
func (v *validator) triggered(i int, f *Fault) *Error {
	p := fmt.Sprintf("faults[%d]", i)
	switch {
	case f.Restart != "" && !v.anyBefore(i, f.Restart, crashOf):
		return v.errf(p+".restart", "no earlier crash of %s in this file: a restart needs one", f.Restart)
	case f.Resume != "" && !v.anyBefore(i, f.Resume, pauseOf):
		return v.errf(p+".resume", "no earlier pause of %s in this file: a resume needs one", f.Resume)
	}
	return nil
}

// covers reports whether a crash or pause of what may take down target.
func (v *validator) covers(what, target string) bool {
	if what == "" {
		return false
	}
	return what == target || isSelector(what) && !isSelector(target) && v.isServer[target]
}

// anyBefore reports whether a fault before i crashes (or pauses) target.
func (v *validator) anyBefore(i int, target string, of func(*Fault) string) bool {
	return slices.ContainsFunc(v.s.Faults[:i], func(f Fault) bool { return v.covers(of(&f), target) })
}

// eventBefore reports whether an event-triggered fault before i crashes
// (or pauses) target.
func (v *validator) eventBefore(i int, target string, of func(*Fault) string) bool {
	return slices.ContainsFunc(v.s.Faults[:i], func(f Fault) bool { return f.On != nil && v.covers(of(&f), target) })
}

// ringChange is a join or leave on the timeline.
type ringChange struct {
	at   time.Duration
	idx  int // the fault
	join bool
	node string
}

// ring plays the joins and leaves triggered at a time in order, from the
// initial ring n1..nN of a queue scenario (its spares are on no ring), and
// rejects a join of a node already on the ring, a leave of a node that is
// not on it, and a leave of the ring's last node. Joins and leaves are
// instantaneous, and the settle phase does not undo them. The time of an
// event-triggered join or leave is unknown until the run: its node's
// place on the ring is not checked, and neither is the last-node rule.
func (v *validator) ring() *Error {
	var (
		evs       []ringChange
		uncertain = map[string]bool{}
	)
	for i := range v.s.Faults {
		f := &v.s.Faults[i]
		node, join := f.Join, true
		if node == "" {
			node, join = f.Leave, false
		}
		switch {
		case node == "":
		case f.At == nil:
			uncertain[node] = true
		default:
			evs = append(evs, ringChange{at: f.At.D(), idx: i, join: join, node: node})
		}
	}
	if len(evs) == 0 {
		return nil
	}
	slices.SortStableFunc(evs, func(a, b ringChange) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.idx, b.idx)) })

	n := v.s.Cluster.Queues
	initial := v.servers[:n]
	on := map[string]int{}  // a node on the ring -> the fault that put it there, -1 for the initial ring
	off := map[string]int{} // a node that left -> the fault that removed it
	for _, id := range initial {
		on[id] = -1
	}
	members := n
	for _, e := range evs {
		if uncertain[e.node] {
			continue
		}
		p := fmt.Sprintf("faults[%d].leave", e.idx)
		if e.join {
			p = fmt.Sprintf("faults[%d].join", e.idx)
		}
		by, isOn := on[e.node]
		switch {
		case e.join && isOn && by < 0:
			return v.errf(p, "%s is already on the ring at %v: it is on the initial ring %s..%s; join a spare or a node that left", e.node, e.at, initial[0], initial[n-1])
		case e.join && isOn:
			return v.errf(p, "%s is already on the ring at %v (faults[%d] joined it)", e.node, e.at, by)
		case e.join:
			on[e.node] = e.idx
			delete(off, e.node)
			members++
		case !isOn:
			if k, left := off[e.node]; left {
				return v.errf(p, "%s is not on the ring at %v (faults[%d] removed it)", e.node, e.at, k)
			}
			return v.errf(p, "%s is not on the ring at %v: it is a spare, which only a join puts on the ring", e.node, e.at)
		case members == 1 && len(uncertain) == 0:
			return v.errf(p, "%s is the last node on the ring at %v: a ring cannot be empty", e.node, e.at)
		default:
			delete(on, e.node)
			off[e.node] = e.idx
			members--
		}
	}
	return nil
}
