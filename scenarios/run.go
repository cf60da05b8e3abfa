package scenarios

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// RunOptions choose how one seed of a scenario runs.
type RunOptions struct {
	Seed sim.Seed
	// Trace, if set, receives the run's JSON Lines trace.
	Trace io.Writer
	// Watch, if set, sees every trace record as it happens, with the
	// running simulation (replay prints the human-readable trace from it).
	Watch func(r *sim.Record, m nodes.Message, run *Run)
	// LinearizableTimeout bounds the porcupine check (default 10s).
	LinearizableTimeout time.Duration
	// Extra adds checks run after every event, besides the scenario's own
	// (tests of the testbed itself use them, e.g. to make a run fail on
	// purpose and shrink it).
	Extra []ExtraCheck
	// WireCheck requires the simulator's wire check (sim.Config.WireCheck):
	// every delivered message is encoded with the TCP codec and the
	// receiver gets the decoded copy, so a codec bug fails the run
	// deterministically (as a "panic" failure naming the message type).
	// Every world Build makes already has the wire check on (only a
	// cluster's Unchecked mode, for benchmarks, turns it off, and no
	// scenario uses it), so this field changes neither the run nor its
	// trace-hash: RunScenario verifies that every delivered message went
	// through the codec, and returns an error if one did not.
	WireCheck bool
}

// ExtraCheck is a named invariant over a running scenario.
type ExtraCheck struct {
	Name  string
	Check func(run *Run) error
}

// Run is one scenario running on one seed: the cluster it built (Locks or
// Queues, the one the scenario sizes) and the fault records it keeps.
type Run struct {
	Scenario *spec.Scenario
	Locks    *LockSim
	Queues   *QueueSim
	Caches   *CacheSim
	svc      service
	faults   []FaultRecord
	rng      *rand.Rand
	// crashedBy remembers, per fault index, the node a selector crashed,
	// so "restart: leader(locks)" restarts that node.
	crashedBy map[string][]nodes.NodeID
	swarm     []string
}

// service is what the runner needs of a simulated service, whichever it
// is.
type service interface {
	world() *sim.World
	servers() []nodes.NodeID
	currentLeader() nodes.NodeID
	completed() int
	noteCrash(id nodes.NodeID)
}

func (ls *LockSim) world() *sim.World            { return ls.World }
func (ls *LockSim) servers() []nodes.NodeID      { return ls.Servers }
func (ls *LockSim) currentLeader() nodes.NodeID  { return ls.Leader() }
func (ls *LockSim) completed() int               { return ls.History.Completed }
func (qs *QueueSim) world() *sim.World           { return qs.World }
func (qs *QueueSim) servers() []nodes.NodeID     { return qs.Servers }
func (qs *QueueSim) currentLeader() nodes.NodeID { return qs.Leader() }
func (qs *QueueSim) completed() int              { return qs.History.Completed }
func (cs *CacheSim) world() *sim.World           { return cs.World }
func (cs *CacheSim) servers() []nodes.NodeID     { return cs.Servers }
func (cs *CacheSim) currentLeader() nodes.NodeID { return "" }
func (cs *CacheSim) completed() int              { return cs.History.Completed }
func (cs *CacheSim) noteCrash(nodes.NodeID)      {}

// World returns the simulated world the run built.
func (run *Run) World() *sim.World { return run.svc.world() }

// Servers returns the run's server nodes.
func (run *Run) Servers() []nodes.NodeID { return run.svc.servers() }

// RunScenario runs s on one seed and checks it: Raft and lock safety after
// every event (as s.Check asks), liveness after the last fault, and the
// clients' history for linearizability at the end.
func RunScenario(s *spec.Scenario, opts RunOptions) (*Result, error) {
	start := time.Now()
	run, err := Build(s, opts.Seed)
	if err != nil {
		return nil, err
	}
	w := run.World()
	if opts.Trace != nil {
		w.Trace().Stream(opts.Trace)
		w.SetMessageDescriber(func(m nodes.Message) string { return fmt.Sprint(m) })
	}
	if opts.Watch != nil {
		w.Trace().Watch(func(r sim.Record, m nodes.Message) { opts.Watch(&r, m, run) })
	}
	for _, x := range opts.Extra {
		w.AddChecker(x.Name, func(*sim.World) error { return x.Check(run) })
	}
	res := run.executeSafely(opts)
	res.Version = ResultVersion
	res.Wall = time.Since(start)
	if err := w.Trace().Flush(); err != nil {
		return res, err
	}
	if opts.WireCheck {
		if err := checkWired(w, res); err != nil {
			return res, fmt.Errorf("scenario %s seed %d: %w", s.Name, opts.Seed, err)
		}
	}
	return res, nil
}

// checkWired reports a delivered message that did not go through the wire
// check. A failed round trip panics in the middle of its delivery, counted
// as delivered and not as checked: that one message is the run's "panic"
// failure, not a skipped check.
func checkWired(w *sim.World, res *Result) error {
	net := w.Stats().Net
	allowed := uint64(0)
	if res.Failure != nil && res.Failure.Check == "panic" {
		allowed = 1
	}
	if net.WireChecked > net.Delivered || net.Delivered-net.WireChecked > allowed {
		return fmt.Errorf("wire check: %d messages delivered, %d round-tripped through the codec", net.Delivered, net.WireChecked)
	}
	return nil
}

// Build compiles s into a simulated world for seed, with its faults
// scheduled, without running it.
func Build(s *spec.Scenario, seed sim.Seed) (*Run, error) {
	run := &Run{Scenario: s, rng: seed.Stream("scenario"), crashedBy: map[string][]nodes.NodeID{}}
	if err := run.buildService(seed); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	for i := range s.Faults {
		if err := run.schedule(i, &s.Faults[i]); err != nil {
			return nil, fmt.Errorf("scenario %s: faults[%d]: %w", s.Name, i, err)
		}
	}
	if s.Swarm != nil {
		if err := run.scheduleSwarm(seed); err != nil {
			return nil, fmt.Errorf("scenario %s: swarm: %w", s.Name, err)
		}
	}
	if on := run.checks(); on[spec.CheckLiveness] || on[spec.CheckAtLeastOnce] {
		run.World().At(s.Duration.D()-settle(s), "heal-all", run.healAll)
	}
	return run, nil
}

// buildService builds the cluster of the service the scenario sizes.
func (run *Run) buildService(seed sim.Seed) error {
	s := run.Scenario
	if s.Cluster.Caches > 0 {
		c, err := cacheClusterOf(s, seed)
		if err != nil {
			return err
		}
		cs, err := NewCacheSim(c)
		if err != nil {
			return err
		}
		run.Caches, run.svc = cs, cs
		return nil
	}
	if s.Cluster.Queues > 0 {
		c, err := queueCluster(s, seed)
		if err != nil {
			return err
		}
		qs, err := NewQueueSim(c)
		if err != nil {
			return err
		}
		run.Queues, run.svc = qs, qs
		return nil
	}
	c, err := lockCluster(s, seed)
	if err != nil {
		return err
	}
	ls, err := NewLockSim(c)
	if err != nil {
		return err
	}
	run.Locks, run.svc = ls, ls
	return nil
}

func (run *Run) checks() map[string]bool {
	on := map[string]bool{}
	for _, c := range run.Scenario.Check {
		on[c] = true
	}
	return on
}

// executeSafely runs the scenario and turns a panic of node or protocol
// code (an impossible state, asserted) into a failed check, so one bad
// seed is reported with its replay command instead of ending a sweep.
func (run *Run) executeSafely(opts RunOptions) (res *Result) {
	defer func() {
		if p := recover(); p != nil {
			w := run.World()
			res = &Result{Scenario: run.Scenario.Name, File: run.Scenario.File, Seed: uint64(opts.Seed)}
			res.fail(&Failure{Check: "panic", At: w.Now(), Event: w.Stats().Events, Message: fmt.Sprint(p)})
			res.TraceHash, res.Virtual, res.Stats = w.Trace().HashString(), w.Now(), w.Stats()
			res.Faults = run.faults
		}
	}()
	return run.execute(opts)
}

// execute runs the world to the end and fills in the result.
func (run *Run) execute(opts RunOptions) *Result {
	if run.Queues != nil {
		return run.executeQueues(opts)
	}
	if run.Caches != nil {
		return run.executeCaches(opts)
	}
	s, ls := run.Scenario, run.Locks
	on := run.checks()
	res := &Result{Scenario: s.Name, File: s.File, Seed: uint64(opts.Seed), Passed: true}
	var err error
	if on[spec.CheckLiveness] {
		err = ls.Run(s.Duration.D(), settle(s))
	} else {
		err = ls.World.Run(s.Duration.D())
	}
	for _, name := range s.Check {
		res.Checks = append(res.Checks, CheckResult{Name: name, Passed: true})
	}
	if err != nil {
		res.fail(failureOf(err, ls.World))
	}
	if on[spec.CheckLinearizable] && res.Passed {
		timeout := opts.LinearizableTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		v, info := ls.History.CheckLinearizable(timeout)
		if v != Linearizable {
			res.Linearization = &info
		}
		res.setCheck(spec.CheckLinearizable, v == Linearizable, "verdict "+string(v))
		switch v {
		case NotLinearizable:
			res.fail(&Failure{Check: spec.CheckLinearizable, At: ls.World.Now(), Event: ls.World.Stats().Events,
				Message: "the clients' lock history has no linearization"})
		case LinUnknown:
			// Not checked is not passed.
			res.fail(&Failure{Check: spec.CheckLinearizable, At: ls.World.Now(), Event: ls.World.Stats().Events,
				Message: fmt.Sprintf("unknown: porcupine found no answer within %v", timeout)})
		}
	}
	res.TraceHash = ls.World.Trace().HashString()
	res.Virtual, res.Stats, res.Terms = ls.World.Now(), ls.World.Stats(), ls.MaxTerm()
	res.Ops = lockOps(ls.History)
	res.Faults = run.faults
	res.Swarm = run.swarm
	res.Elections, res.LeaderLost = ls.Elections, ls.LeaderLost
	res.Locks = ls.lockStats()
	return res
}

// healAll starts the quiet phase of liveness mode: every partition healed,
// every paused node resumed, every crashed server restarted, every disk
// back to normal.
func (run *Run) healAll(w *sim.World) {
	w.Heal()
	disk, _ := diskConfig(run.Scenario.Disk)
	for _, id := range w.Nodes() {
		_ = w.Resume(id) // an error means it was not paused
		_ = w.SetDisk(id, disk)
	}
	for _, id := range run.svc.servers() {
		if !w.Up(id) {
			_ = w.Restart(id)
		}
	}
}

func settle(s *spec.Scenario) time.Duration {
	if s.Settle > 0 {
		return s.Settle.D()
	}
	return 3 * time.Second
}

// failureOf names the check behind a run error.
func failureOf(err error, w *sim.World) *Failure {
	if v := w.Violation(); v != nil {
		return &Failure{Check: v.Checker, At: v.At, Event: v.Event, Message: v.Err.Error()}
	}
	msg := err.Error()
	check := "run"
	if strings.HasPrefix(msg, "liveness") {
		check = spec.CheckLiveness
		// "liveness at t=...: what" — the check and time are fields.
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	return &Failure{Check: check, At: w.Now(), Event: w.Stats().Events, Message: msg}
}

func (r *Result) fail(f *Failure) {
	if r.Failure == nil {
		r.Failure = f
	}
	r.Passed = false
	r.setCheck(f.Check, false, f.Message)
}

func (r *Result) setCheck(name string, passed bool, detail string) {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			r.Checks[i].Passed = r.Checks[i].Passed && passed
			r.Checks[i].Detail = detail
			return
		}
	}
	r.Checks = append(r.Checks, CheckResult{Name: name, Passed: passed, Detail: detail})
}

// lockCluster translates the scenario's cluster, network, disk and
// workloads.
func lockCluster(s *spec.Scenario, seed sim.Seed) (LockCluster, error) {
	on := map[string]bool{}
	for _, c := range s.Check {
		on[c] = true
	}
	c := LockCluster{
		Seed: seed, Servers: s.Cluster.Locks, Duration: s.Duration.D(), Settle: settle(s),
		SkipRaftSafety: !on[spec.CheckRaftSafety], SkipLockSafety: !on[spec.CheckLockSafety],
	}
	var err error
	if c.Network, c.Disk, err = worldConfig(s); err != nil {
		return c, err
	}
	for i, wl := range s.Workload {
		cfg, err := clientConfig(wl)
		if err != nil {
			return c, fmt.Errorf("workload[%d]: %w", i, err)
		}
		c.Groups = append(c.Groups, ClientGroup{Count: wl.Clients, Config: cfg})
	}
	return c, nil
}

// worldConfig translates the scenario's network and disk.
func worldConfig(s *spec.Scenario) (sim.LinkConfig, sim.DiskConfig, error) {
	n, err := linkConfig(s.Network)
	if err != nil {
		return n, sim.DiskConfig{}, err
	}
	d, err := diskConfig(s.Disk)
	return n, d, err
}

func latency(l *spec.Latency) (sim.Latency, error) {
	if l == nil {
		return sim.Latency{}, nil
	}
	switch l.Dist {
	case "constant":
		return sim.Constant(l.Value.D()), nil
	case "uniform":
		return sim.Uniform(l.Min.D(), l.Max.D()), nil
	case "normal":
		return sim.Normal(l.Mean.D(), l.StdDev.D()), nil
	case "exponential":
		return sim.Exponential(l.Min.D(), l.Mean.D()), nil
	}
	return sim.Latency{}, fmt.Errorf("latency: unknown distribution %q", l.Dist)
}

func linkConfig(n spec.Network) (sim.LinkConfig, error) {
	lat, err := latency(n.Latency)
	if err != nil {
		return sim.LinkConfig{}, fmt.Errorf("network.%w", err)
	}
	if n.Latency == nil {
		lat = sim.Uniform(time.Millisecond, 5*time.Millisecond)
	}
	return sim.LinkConfig{Latency: lat, Loss: n.Loss, Duplicate: n.Duplicate, Reorder: n.Reorder, ReorderDelay: n.ReorderDelay.D()}, nil
}

func diskConfig(d spec.Disk) (sim.DiskConfig, error) {
	w, err := latency(d.WriteLatency)
	if err != nil {
		return sim.DiskConfig{}, fmt.Errorf("disk.write_%w", err)
	}
	s, err := latency(d.SyncLatency)
	if err != nil {
		return sim.DiskConfig{}, fmt.Errorf("disk.sync_%w", err)
	}
	return sim.DiskConfig{WriteLatency: w, SyncLatency: s, TornWrites: d.TornWrites, CorruptRead: d.CorruptRead, SectorBytes: d.SectorBytes}, nil
}

// clientConfig paces a lock workload: each client alternates acquire and
// release, so a group of N clients at R ops/s runs a cycle of 2N/R per
// client, split between holding and thinking.
func clientConfig(wl spec.Workload) (locks.ClientConfig, error) {
	if wl.Service != "locks" {
		return locks.ClientConfig{}, fmt.Errorf("service %q is not built yet", wl.Service)
	}
	cfg := locks.ClientConfig{Resources: wl.Resources, Shared: wl.Shared, TTL: wl.TTL.D(), Hold: wl.Hold.D()}
	if wl.Distribution == "zipf" {
		cfg.Zipf = wl.ZipfS
		if cfg.Zipf == 0 {
			cfg.Zipf = 1.1
		}
	}
	rate := 100.0
	if wl.Rate != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(wl.Rate, "/s"), 64)
		if err != nil || v <= 0 {
			return cfg, fmt.Errorf("rate %q: want N/s", wl.Rate)
		}
		rate = v
	}
	cycle := time.Duration(2 * float64(wl.Clients) / rate * float64(time.Second))
	if cfg.Hold <= 0 {
		cfg.Hold = cycle / 2
	}
	cfg.Think = max(time.Millisecond, cycle-cfg.Hold)
	switch wl.Wait {
	case "", "none":
		cfg.Wait = lockmgr.WaitPolicy{Kind: lockmgr.NoWait}
		if wl.Wait == "" {
			cfg.Wait = lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second}
		}
	case "forever":
		cfg.Wait = lockmgr.WaitPolicy{Kind: lockmgr.Forever}
	default:
		d, err := time.ParseDuration(wl.Wait)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("wait %q: want none, forever or a duration", wl.Wait)
		}
		cfg.Wait = lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: d}
	}
	return cfg, nil
}

// sortedNodes returns ids sorted (a copy).
func sortedNodes(ids []nodes.NodeID) []nodes.NodeID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
