// Package tcprun runs a scenario file against a real cluster: the
// scenario's workload is driven over the HTTP API by real clients, its
// faults are applied for real (SIGKILL and restart, SIGSTOP and SIGCONT,
// the transport's fault filter through each node's admin endpoint), and
// the same history checkers as in the simulator judge the clients'
// histories. Such a run is not deterministic: the wall clock, the kernel's
// scheduler and the network decide what the seed decides in the
// simulator, so it has no trace-hash, and a failure cannot be replayed.
package tcprun

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/httpapi"
	"github.com/distsync/distsync/httpapi/client"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
)

// Options say how to run a scenario against a real cluster.
type Options struct {
	// Cluster is the cluster file; its nodes must run with
	// --enable-fault-injection when the scenario has network faults, and
	// be a local cluster (pid files in its directory: `distsync cluster
	// up`) when it has process faults.
	Cluster *cluster.File
	// Binary is the distsync executable restarts run.
	Binary string
	// Seed draws the workload's choices (keys, modes) and the selectors'
	// picks; it does not make the run repeatable.
	Seed uint64
	// LinearizableTimeout bounds each porcupine check (default 10s).
	LinearizableTimeout time.Duration
	// HealTimeout bounds how long after the run the cluster may take to be
	// healthy again and the queues to drain (default 30s).
	HealTimeout time.Duration
}

// Run runs s against the cluster and checks it.
func Run(ctx context.Context, s *spec.Scenario, opts Options) (*scenarios.Result, error) {
	if err := checkScenario(s, opts.Cluster); err != nil {
		return nil, err
	}
	if opts.LinearizableTimeout == 0 {
		opts.LinearizableTimeout = 10 * time.Second
	}
	if opts.HealTimeout == 0 {
		opts.HealTimeout = 30 * time.Second
	}
	tlsCfg, err := opts.Cluster.ClientTLS()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: 256}}
	w := &world{f: opts.Cluster, binary: opts.Binary, extra: []string{"--enable-fault-injection"}, http: hc,
		rng: rand.New(rand.NewPCG(opts.Seed, 0x7c9)), drop: map[nodes.NodeID]map[nodes.NodeID]bool{},
		delay: map[nodes.NodeID]time.Duration{}, crashed: map[string][]nodes.NodeID{}}
	hctx, cancel := context.WithTimeout(ctx, opts.HealTimeout)
	err = cluster.WaitHealthy(hctx, opts.Cluster, hc)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tcp run: the cluster is not healthy: %w", err)
	}
	if len(s.Faults) > 0 {
		if err := w.heal(); err != nil {
			return nil, fmt.Errorf("tcp run: %w", err)
		}
	}
	var urls []string
	for i := range opts.Cluster.Nodes {
		urls = append(urls, opts.Cluster.URL(&opts.Cluster.Nodes[i]))
	}
	api, err := client.New(client.Config{Endpoints: urls, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	w.start = time.Now()
	h := &histories{locks: scenarios.NewHistory(w.now), queues: scenarios.NewQueueHistory(w.now), caches: scenarios.NewCacheHistory(w.now)}
	runCtx, stopRun := context.WithTimeout(ctx, s.Duration.D())
	defer stopRun()
	stopFaults := w.schedule(runCtx, s)
	written := &writtenKeys{keys: map[string]bool{}}
	var wg sync.WaitGroup
	for wi, wl := range s.Workload {
		for i := range wl.Clients {
			d := newDriver(wl, wi, i, api, opts.Seed, h)
			d.wbSeen = written.add
			wg.Add(1)
			go func() { defer wg.Done(); d.run(runCtx) }()
		}
	}
	wg.Wait()
	stopFaults()
	wall := time.Since(w.start)
	healErr := w.healAll(ctx, opts.HealTimeout)
	res := &scenarios.Result{Version: scenarios.ResultVersion, Scenario: s.Name, File: s.File, Seed: opts.Seed,
		Wall: wall, Virtual: wall, Faults: w.faults, Real: true}
	w.check(ctx, s, h, written, api, res, opts, healErr)
	return res, nil
}

// writtenKeys are the cache keys with a completed put (a write-back crash
// may lose any of them).
type writtenKeys struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (k *writtenKeys) add(key string) {
	k.mu.Lock()
	k.keys[key] = true
	k.mu.Unlock()
}

// checkScenario refuses what a real cluster cannot run: fault kinds it
// cannot apply, nodes the cluster file does not have, services it does not
// run.
func checkScenario(s *spec.Scenario, f *cluster.File) error {
	if f == nil {
		return errors.New("tcp run: no cluster file")
	}
	if err := checkFaults(s); err != nil {
		return err
	}
	for _, wl := range s.Workload {
		if len(f.Running(wl.Service)) == 0 {
			return fmt.Errorf("tcp run: workload %s: no node of the cluster file runs it", wl.Service)
		}
	}
	for i := range s.Faults {
		for _, name := range faultNodes(&s.Faults[i]) {
			if _, err := f.Node(nodes.NodeID(name)); err != nil && !strings.HasPrefix(name, "c") {
				return fmt.Errorf("tcp run: faults[%d] (line %d): %w", i, s.Faults[i].Line, err)
			}
		}
	}
	return nil
}

// faultNodes lists the node names a fault names (not its selectors).
func faultNodes(f *spec.Fault) []string {
	var out []string
	for _, t := range []string{f.Crash, f.Restart, f.Pause, f.Resume, f.Isolate} {
		if t != "" && !strings.Contains(t, "(") {
			out = append(out, t)
		}
	}
	for _, g := range f.Partition {
		out = append(out, g...)
	}
	if f.OneWay != nil {
		out = append(append(out, f.OneWay.From...), f.OneWay.To...)
	}
	if f.Clog != nil {
		out = append(out, f.Clog.From)
	}
	return out
}

// healAll ends every fault: cuts and filters cleared, paused nodes
// resumed, crashed nodes restarted; then waits until the cluster is
// healthy.
func (w *world) healAll(ctx context.Context, limit time.Duration) error {
	w.mu.Lock()
	clear(w.drop)
	clear(w.delay)
	w.loss, w.dup, w.jitter = 0, 0, 0
	w.mu.Unlock()
	for i := range w.f.Nodes {
		id := w.f.Nodes[i].ID
		if cluster.IsRunning(w.f, id) {
			_ = cluster.Signal(w.f, id, syscall.SIGCONT)
			continue
		}
		if err := w.restartNode(id); err != nil {
			return err
		}
	}
	hctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := cluster.WaitHealthy(hctx, w.f, w.http); err != nil {
		return err
	}
	return w.pushAll()
}

// check runs the scenario's checks that a real cluster allows and fills
// res.
func (w *world) check(ctx context.Context, s *spec.Scenario, h *histories, written *writtenKeys, api *client.Client,
	res *scenarios.Result, opts Options, healErr error) {
	add := func(name string, err error, detail string) {
		c := scenarios.CheckResult{Name: name, Passed: err == nil, Detail: detail}
		if err != nil {
			c.Detail = err.Error()
		}
		res.Checks = append(res.Checks, c)
	}
	add("heal", healErr, "every node healthy after the run")
	w.mu.Lock()
	failures := slices.Clone(w.failures)
	w.mu.Unlock()
	if len(failures) > 0 {
		add("faults", fmt.Errorf("%s", strings.Join(failures, "; ")), "")
	}
	services := map[string]bool{}
	for _, wl := range s.Workload {
		services[wl.Service] = true
	}
	crashes := false
	for _, r := range res.Faults {
		crashes = crashes || (r.Kind == "crash" && r.Applied)
	}
	for _, name := range s.Check {
		switch name {
		case "linearizable":
			if services["locks"] {
				v, _ := h.locks.CheckLinearizable(opts.LinearizableTimeout)
				add("linearizable (locks)", verdict(v), fmt.Sprintf("%d operations", len(h.locks.Ops)))
			}
			if services["caches"] {
				if crashes && opts.Cluster.Caches.WritePolicy != "write-through" {
					for k := range written.keys { //det:ordered marks each key; order does not matter
						h.caches.Lost(k)
					}
				}
				v, _ := h.caches.CheckLinearizable(opts.LinearizableTimeout)
				add("linearizable (caches)", verdict(v), fmt.Sprintf("%d operations, %d keys left out (writes a crash may have lost)", len(h.caches.Ops), len(h.caches.LostKeys())))
			}
		case "queue-safety":
			add(name, h.queues.Violation(), "no delivery after a successful ack")
		case "at-least-once":
			add(name, w.drain(ctx, s, h, api, opts.HealTimeout), "every acknowledged enqueue delivered")
		case "liveness":
			add(name, liveness(res, h, s), "the operations invoked after the last fault completed")
		default:
			res.Checks = append(res.Checks, scenarios.CheckResult{Name: name, Passed: true, Skipped: true,
				Detail: "not checked in TCP mode: it reads every replica's internal state, which only the simulator sees"})
		}
	}
	res.Ops = append(append(scenarios.LockOps(h.locks), scenarios.QueueOps(h.queues)...), scenarios.CacheOps(h.caches)...)
	res.Passed = true
	for _, c := range res.Checks {
		if !c.Passed {
			res.Passed = false
			if res.Failure == nil {
				res.Failure = &scenarios.Failure{Check: c.Name, At: res.Wall, Message: c.Detail}
			}
		}
	}
}

// verdict turns a porcupine verdict into an error.
func verdict(v scenarios.Linearizability) error {
	switch v {
	case scenarios.Linearizable:
		return nil
	case scenarios.LinUnknown:
		return errors.New("the check ran out of time")
	}
	return errors.New("the history is not linearizable")
}

// liveness checks that the operations invoked in the settle phase (after
// every fault ended) got an answer.
func liveness(res *scenarios.Result, h *histories, s *spec.Scenario) error {
	from := s.Duration.D() - settleOf(s)
	for _, r := range res.Faults {
		from = max(from, r.End)
	}
	for _, op := range res.Ops {
		if op.Call >= from && op.Outcome == scenarios.OutcomeUnknown && op.Call < res.Wall-opTimeout {
			return fmt.Errorf("%s %s by %s invoked at %v never completed", op.Service, op.Kind, op.Client, op.Call.Round(time.Millisecond))
		}
	}
	return nil
}

// settleOf is the scenario's settle phase (3 s by default, as in the
// simulator).
func settleOf(s *spec.Scenario) time.Duration {
	if s.Settle > 0 {
		return s.Settle.D()
	}
	return 3 * time.Second
}

// drain dequeues and acks every queue of the workload until empty, then
// checks that every acknowledged enqueue was delivered. A dequeue that got
// no answer (the run ended or a crash cut it) may have taken a message
// nobody saw: while one of a queue's messages is undelivered and such a
// dequeue exists, the drain keeps polling until the message's visibility
// timeout has had time to end.
func (w *world) drain(ctx context.Context, s *spec.Scenario, h *histories, api *client.Client, limit time.Duration) error {
	seq := uint64(1 << 40)
	for _, wl := range s.Workload {
		if wl.Service != "queues" {
			continue
		}
		vis := wl.Visibility.D()
		if vis == 0 {
			vis = httpapi.DefaultVisibility
		}
		dctx, cancel := context.WithTimeout(ctx, limit+vis)
		d := &driver{name: "drain", api: api, h: h, w: wl}
		for q := range wl.Resources {
			w.drainQueue(dctx, d, &seq, fmt.Sprintf("q%d", q))
		}
		cancel()
	}
	if lost := h.queues.Undelivered(); len(lost) > 0 {
		return fmt.Errorf("%d acknowledged messages never delivered (first: %v)", len(lost), lost[0])
	}
	return nil
}

// drainQueue empties q, then polls it while a message of q is undelivered
// and may be hidden by a dequeue that got no answer.
func (w *world) drainQueue(ctx context.Context, d *driver, seq *uint64, q string) {
	for ctx.Err() == nil {
		*seq++
		if !d.dequeueAck(ctx, "drain", seq, q) {
			continue
		}
		if !d.h.queues.UnansweredDequeue(q) || !slices.ContainsFunc(d.h.queues.Undelivered(), func(l scenarios.QueueLost) bool { return l.Queue == q }) {
			return
		}
		sleep(ctx, 100*time.Millisecond)
	}
}
