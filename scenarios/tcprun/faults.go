package tcprun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/runtime"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
)

// faultKinds are the fault kinds a real cluster can take; the others
// (clock, disk, ring changes, triggers) are refused when the run starts.
var faultKinds = []string{"crash", "restart", "pause", "resume", "partition", "one-way", "isolate", "heal",
	"loss", "duplicate", "reorder", "clog"}

// world applies faults to a real cluster: processes are signalled (SIGKILL
// then a restart, SIGSTOP and SIGCONT), the network is faulted through
// each node's admin endpoint, whose filter applies to what it sends.
type world struct {
	f      *cluster.File
	binary string
	extra  []string
	http   *http.Client
	rng    *rand.Rand
	start  time.Time

	mu       sync.Mutex
	drop     map[nodes.NodeID]map[nodes.NodeID]bool // sender -> receivers cut
	loss     float64
	dup      float64
	jitter   time.Duration
	delay    map[nodes.NodeID]time.Duration // clogs, by sender
	crashed  map[string][]nodes.NodeID      // selector -> nodes it took down
	faults   []scenarios.FaultRecord
	failures []string
}

// now is the time since the run started.
func (w *world) now() time.Duration { return time.Since(w.start) }

// checkFaults refuses a scenario whose faults cannot be applied for real.
func checkFaults(s *spec.Scenario) error {
	if s.Swarm != nil {
		return fmt.Errorf("tcp run: swarm: a swarm draws its faults in the simulator only")
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		kind, _ := describeFault(f)
		if !slices.Contains(faultKinds, kind) {
			return fmt.Errorf("tcp run: faults[%d] (line %d): %s faults cannot be applied to a real cluster (it can take %s)",
				i, f.Line, kind, strings.Join(faultKinds, ", "))
		}
		if f.On != nil {
			return fmt.Errorf("tcp run: faults[%d] (line %d): triggers (on:) need the simulator's events; use at: or from:", i, f.Line)
		}
		if f.Link != nil && (kind == "loss" || kind == "duplicate" || kind == "reorder") {
			return fmt.Errorf("tcp run: faults[%d] (line %d): %s on one link: the fault filter applies to all of a node's links; drop link:", i, f.Line, kind)
		}
	}
	return nil
}

// describeFault names a fault's kind and target.
func describeFault(f *spec.Fault) (kind, target string) { return scenarios.DescribeFault(f) }

// schedule arms every fault of s on the wall clock; the returned stop
// cancels those not yet fired.
func (w *world) schedule(ctx context.Context, s *spec.Scenario) func() {
	var timers []*time.Timer
	var mu sync.Mutex
	for i := range s.Faults {
		f := &s.Faults[i]
		kind, target := describeFault(f)
		w.mu.Lock()
		rec := len(w.faults)
		w.faults = append(w.faults, scenarios.FaultRecord{Index: i, Line: f.Line, Kind: kind, Target: target})
		w.mu.Unlock()
		at := time.Duration(0)
		switch {
		case f.At != nil:
			at = f.At.D()
		case f.From != nil:
			at = f.From.D()
		}
		t := time.AfterFunc(at, func() {
			if ctx.Err() != nil {
				return
			}
			end, err := w.act(ctx, f, &mu, &timers)
			w.mu.Lock()
			defer w.mu.Unlock()
			r := &w.faults[rec]
			r.Start = w.now()
			if err != nil {
				r.Note = "never applied: " + err.Error()
				return
			}
			r.Applied = true
			if end > 0 {
				r.End = r.Start + end
			}
		})
		mu.Lock()
		timers = append(timers, t)
		mu.Unlock()
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		for _, t := range timers {
			t.Stop()
		}
	}
}

// later runs fn after d (if the run is still going), tracked for stop.
func (w *world) later(ctx context.Context, d time.Duration, mu *sync.Mutex, timers *[]*time.Timer, fn func()) {
	t := time.AfterFunc(d, func() {
		if ctx.Err() == nil {
			fn()
		}
	})
	mu.Lock()
	*timers = append(*timers, t)
	mu.Unlock()
}

// act applies f now; it returns how long the fault lasts (0: instant or
// until undone by another fault).
func (w *world) act(ctx context.Context, f *spec.Fault, mu *sync.Mutex, timers *[]*time.Timer) (time.Duration, error) {
	window := windowOf(f)
	switch kind, _ := describeFault(f); kind {
	case "crash":
		id, err := w.resolve(f.Crash)
		if err != nil {
			return 0, err
		}
		if err := cluster.Kill(w.f, id); err != nil {
			return 0, err
		}
		w.mu.Lock()
		w.crashed[f.Crash] = append(w.crashed[f.Crash], id)
		w.mu.Unlock()
		if f.RestartAfter != nil {
			w.later(ctx, f.RestartAfter.D(), mu, timers, func() { w.note(w.restartNode(id)) })
			return f.RestartAfter.D(), nil
		}
		return 0, nil
	case "restart":
		return 0, w.restart(f.Restart)
	case "pause":
		id, err := w.resolve(f.Pause)
		if err != nil {
			return 0, err
		}
		if err := cluster.Signal(w.f, id, syscall.SIGSTOP); err != nil {
			return 0, err
		}
		if f.ResumeAfter != nil {
			w.later(ctx, f.ResumeAfter.D(), mu, timers, func() { w.note(cluster.Signal(w.f, id, syscall.SIGCONT)) })
			return f.ResumeAfter.D(), nil
		}
		return 0, nil
	case "resume":
		return 0, cluster.Signal(w.f, nodes.NodeID(f.Resume), syscall.SIGCONT)
	case "partition", "one-way", "isolate":
		if err := w.cut(f); err != nil {
			return 0, err
		}
		if f.HealAfter != nil {
			w.later(ctx, f.HealAfter.D(), mu, timers, func() { w.note(w.heal()) })
			return f.HealAfter.D(), nil
		}
		return 0, nil
	case "heal":
		return 0, w.heal()
	case "loss", "duplicate", "reorder":
		return window, w.linkWindow(ctx, f, window, mu, timers)
	case "clog":
		return window, w.clog(ctx, f, window, mu, timers)
	default:
		return 0, fmt.Errorf("%s faults cannot be applied to a real cluster", kind)
	}
}

// windowOf is how long a windowed fault lasts: To-From, or For.
func windowOf(f *spec.Fault) time.Duration {
	switch {
	case f.From != nil && f.To != nil:
		return f.To.D() - f.From.D()
	case f.For != nil:
		return f.For.D()
	}
	return 0
}

// note records an error of a delayed action (a restart, a heal).
func (w *world) note(err error) {
	if err != nil {
		w.mu.Lock()
		w.failures = append(w.failures, fmt.Sprintf("at %v: %v", w.now().Round(time.Millisecond), err))
		w.mu.Unlock()
	}
}

// restartNode starts a killed node again.
func (w *world) restartNode(id nodes.NodeID) error {
	return cluster.LaunchNode(w.f, id, w.binary, w.extra...)
}

// restart restarts a named node, or every node a selector crashed that is
// still down.
func (w *world) restart(target string) error {
	w.mu.Lock()
	ids := slices.Clone(w.crashed[target])
	w.mu.Unlock()
	if len(ids) == 0 {
		ids = []nodes.NodeID{nodes.NodeID(target)}
	}
	for _, id := range ids {
		if cluster.IsRunning(w.f, id) {
			continue
		}
		if err := w.restartNode(id); err != nil {
			return err
		}
	}
	return nil
}

// resolve turns a node name or a selector (leader(locks), follower(locks),
// random(svc)) into a running node.
func (w *world) resolve(target string) (nodes.NodeID, error) {
	role, rest, ok := strings.Cut(target, "(")
	if !ok {
		return nodes.NodeID(target), nil
	}
	svc := strings.TrimSuffix(rest, ")")
	var pool []nodes.NodeID
	leader := w.leader(svc)
	for _, id := range w.f.Running(svc) {
		if !cluster.IsRunning(w.f, id) {
			continue
		}
		switch {
		case role == "leader" && id == leader, role == "follower" && id != leader, role == "random":
			pool = append(pool, id)
		}
	}
	if len(pool) == 0 {
		return "", fmt.Errorf("no %s of %s is running", role, svc)
	}
	return pool[w.rng.IntN(len(pool))], nil
}

// leader asks the running nodes who leads the service's group: the lock
// group's leader, or the leader of q0's group.
func (w *world) leader(svc string) nodes.NodeID {
	for i := range w.f.Nodes {
		n := &w.f.Nodes[i]
		if !slices.Contains(n.Services, svc) || !cluster.IsRunning(w.f, n.ID) {
			continue
		}
		var st struct {
			Locks *struct {
				Leader string `json:"leader"`
			} `json:"locks"`
			Queues *struct {
				Led []struct {
					Queue string `json:"queue"`
				} `json:"led_queues"`
			} `json:"queues"`
		}
		if err := w.getJSON(w.f.URL(n)+"/status", &st); err != nil {
			continue
		}
		switch {
		case svc == cluster.ServiceLocks && st.Locks != nil && st.Locks.Leader != "":
			return nodes.NodeID(st.Locks.Leader)
		case svc == cluster.ServiceQueues && st.Queues != nil:
			for _, q := range st.Queues.Led {
				if q.Queue == "q0" {
					return n.ID // as in the simulator: the leader of q0's group
				}
			}
		}
	}
	return ""
}

// cut applies a partition, a one-way cut or an isolation on top of the
// cuts in force.
func (w *world) cut(f *spec.Fault) error {
	w.mu.Lock()
	block := func(from, to nodes.NodeID) {
		if _, err := w.f.Node(from); err != nil {
			return // a client: in TCP mode clients reach every node
		}
		if _, err := w.f.Node(to); err != nil {
			return
		}
		if w.drop[from] == nil {
			w.drop[from] = map[nodes.NodeID]bool{}
		}
		w.drop[from][to] = true
	}
	switch {
	case f.Partition != nil:
		for gi, g := range f.Partition {
			for hi, h := range f.Partition {
				if gi == hi {
					continue
				}
				for _, a := range g {
					for _, b := range h {
						block(nodes.NodeID(a), nodes.NodeID(b))
					}
				}
			}
		}
	case f.OneWay != nil:
		for _, a := range f.OneWay.From {
			for _, b := range f.OneWay.To {
				block(nodes.NodeID(a), nodes.NodeID(b))
			}
		}
	case f.Isolate != "":
		w.mu.Unlock()
		id, err := w.resolve(f.Isolate)
		if err != nil {
			return err
		}
		w.mu.Lock()
		for i := range w.f.Nodes {
			if o := w.f.Nodes[i].ID; o != id {
				block(id, o)
				block(o, id)
			}
		}
	}
	w.mu.Unlock()
	return w.pushAll()
}

// heal ends every cut.
func (w *world) heal() error {
	w.mu.Lock()
	clear(w.drop)
	w.mu.Unlock()
	return w.pushAll()
}

// linkWindow raises loss, duplication or jitter on every link for window.
func (w *world) linkWindow(ctx context.Context, f *spec.Fault, window time.Duration, mu *sync.Mutex, timers *[]*time.Timer) error {
	set := func(on bool) {
		w.mu.Lock()
		switch {
		case f.Loss != nil:
			w.loss = map[bool]float64{true: *f.Loss}[on]
		case f.Duplicate != nil:
			w.dup = map[bool]float64{true: *f.Duplicate}[on]
		case f.Reorder != nil:
			w.jitter = map[bool]time.Duration{true: 50 * time.Millisecond}[on]
		}
		w.mu.Unlock()
	}
	set(true)
	if window > 0 {
		w.later(ctx, window, mu, timers, func() { set(false); w.note(w.pushAll()) })
	}
	return w.pushAll()
}

// clog delays what From sends for window (the filter delays all of a
// node's links, so a clog of one link slows From's other links too).
func (w *world) clog(ctx context.Context, f *spec.Fault, window time.Duration, mu *sync.Mutex, timers *[]*time.Timer) error {
	from := nodes.NodeID(f.Clog.From)
	w.mu.Lock()
	w.delay[from] = f.Clog.Delay.D()
	w.mu.Unlock()
	if window > 0 {
		w.later(ctx, window, mu, timers, func() {
			w.mu.Lock()
			delete(w.delay, from)
			w.mu.Unlock()
			w.note(w.push(from))
		})
	}
	return w.push(from)
}

// pushAll sends every node its fault filter.
func (w *world) pushAll() error {
	var errs []string
	for i := range w.f.Nodes {
		if err := w.push(w.f.Nodes[i].ID); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// push sends node id its fault filter (a node that is down gets it when
// the next fault changes; a restarted node starts with none).
func (w *world) push(id nodes.NodeID) error {
	n, err := w.f.Node(id)
	if err != nil {
		return err
	}
	if !cluster.IsRunning(w.f, id) {
		return nil
	}
	w.mu.Lock()
	fl := runtime.Faults{Loss: w.loss, Duplicate: w.dup, Jitter: w.jitter, Delay: w.delay[id]}
	for to := range w.drop[id] { //det:ordered sorted below
		fl.Drop = append(fl.Drop, to)
	}
	w.mu.Unlock()
	slices.Sort(fl.Drop)
	body, err := json.Marshal(fl)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPut, "http://"+n.Admin+"/faults", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s admin: %w (was it started with --enable-fault-injection?)", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s admin: %s: %s", id, resp.Status, msg)
	}
	return nil
}

// getJSON GETs url into v.
func (w *world) getJSON(url string, v any) error {
	resp, err := w.http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
