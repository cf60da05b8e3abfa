package scenarios

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// CacheStats sum up a cache run.
type CacheStats struct {
	Protocol     string `json:"protocol"`
	WriteThrough bool   `json:"write_through"`
	Gets         uint64 `json:"gets"`
	Puts         uint64 `json:"puts"`
	Hits         uint64 `json:"hits"`
	// HitRate is hits per completed operation, in percent.
	HitRate float64 `json:"hit_rate"`
	// LostWrites counts M lines lost with a crashed cache (write-back);
	// LostKeys the keys left out of the linearizability check for it.
	LostWrites int `json:"lost_writes"`
	LostKeys   int `json:"lost_keys"`
	// AmbiguousPuts counts puts in flight at a crash: a retry may apply
	// them twice, so their keys are left out of the linearizability check.
	AmbiguousPuts int `json:"ambiguous_puts"`
	// Coherence counters summed over the live nodes (since their last
	// restart), and the states of the cached lines at the end.
	Evictions     uint64 `json:"evictions"`
	Invalidations uint64 `json:"invalidations"`
	Fetches       uint64 `json:"fetches"`
	WriteBacks    uint64 `json:"write_backs"`
	Messages      uint64 `json:"coherence_messages"`
	States        [4]int `json:"states"` // I, S, E, M
}

// cacheCluster translates a cache scenario.
func cacheClusterOf(s *spec.Scenario, seed sim.Seed) (CacheCluster, error) {
	on := map[string]bool{}
	for _, c := range s.Check {
		on[c] = true
	}
	c := CacheCluster{
		Seed: seed, Servers: s.Cluster.Caches, Duration: s.Duration.D(), Settle: settle(s), Coherence: on[spec.CheckCoherence],
		Server: caches.Config{Protocol: s.CacheProtocol(), WriteThrough: s.WriteThrough(), Capacity: s.CacheCapacity()},
	}
	var err error
	if c.Network, c.Disk, err = worldConfig(s); err != nil {
		return c, err
	}
	for i, wl := range s.Workload {
		if wl.Service != "caches" {
			return c, fmt.Errorf("workload[%d]: service %q in a cache scenario", i, wl.Service)
		}
		cfg := caches.ClientConfig{Keys: max(wl.Resources, 1), Writes: wl.WritesOrDefault(), ValueBytes: wl.Payload}
		if wl.Distribution == "zipf" {
			cfg.Zipf = wl.ZipfS
		}
		rate := 100.0
		if r := wl.RatePerSecond(); r > 0 {
			rate = r
		}
		cfg.Think = max(time.Millisecond, time.Duration(float64(wl.Clients)/rate*float64(time.Second)))
		c.Keys = max(c.Keys, cfg.Keys)
		c.Groups = append(c.Groups, CacheClientGroup{Count: wl.Clients, Config: cfg})
	}
	c.Keys = max(c.Keys, 1)
	return c, nil
}

// executeCaches runs a cache scenario to the end and fills in the result.
func (run *Run) executeCaches(opts RunOptions) *Result {
	s, cs := run.Scenario, run.Caches
	on := run.checks()
	res := &Result{Scenario: s.Name, File: s.File, Seed: uint64(opts.Seed), Passed: true}
	err := cs.Run(s.Duration.D(), settle(s), on[spec.CheckLiveness])
	for _, name := range s.Check {
		res.Checks = append(res.Checks, CheckResult{Name: name, Passed: true})
	}
	if err != nil {
		res.fail(failureOf(err, cs.World))
	}
	if on[spec.CheckLinearizable] && res.Passed {
		timeout := opts.LinearizableTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		v, info := cs.History.CheckLinearizable(timeout)
		if v != Linearizable {
			res.Linearization = &info
		}
		res.setCheck(spec.CheckLinearizable, v == Linearizable, "verdict "+string(v))
		if v != Linearizable {
			res.fail(&Failure{Check: spec.CheckLinearizable, At: cs.World.Now(), Event: cs.World.Stats().Events,
				Message: fmt.Sprintf("the clients' get/put history: %s (keys left out for a write lost or a put in flight at a crash: %d)", v, len(cs.History.LostKeys()))})
		}
	}
	res.TraceHash = cs.World.Trace().HashString()
	res.Virtual, res.Stats = cs.World.Now(), cs.World.Stats()
	res.Ops = cacheOps(cs.History)
	res.Faults, res.Swarm = run.faults, run.swarm
	res.Caches = cs.stats(s)
	return res
}

func (cs *CacheSim) stats(s *spec.Scenario) *CacheStats {
	st := &CacheStats{Protocol: s.CacheProtocol(), WriteThrough: s.WriteThrough(), LostWrites: cs.LostWrites, LostKeys: len(cs.History.LostKeys()), AmbiguousPuts: cs.History.AmbiguousPuts}
	for _, op := range cs.History.Ops {
		if !op.Done || op.Reply.Service != nodes.ServiceOK {
			continue
		}
		if op.Op.Kind == caches.OpPut {
			st.Puts++
		} else {
			st.Gets++
		}
		if op.Reply.Hit {
			st.Hits++
		}
	}
	if n := st.Gets + st.Puts; n > 0 {
		st.HitRate = 100 * float64(st.Hits) / float64(n)
	}
	for _, id := range cs.Servers {
		p := cs.protocol(id)
		if p == nil {
			continue
		}
		ps := p.Stats()
		st.Evictions += ps.Evictions
		st.Invalidations += ps.Invalidations
		st.Fetches += ps.Fetches
		st.WriteBacks += ps.WriteBacks
		st.Messages += ps.Messages
		for _, l := range p.Lines() {
			st.States[l.State]++
		}
	}
	return st
}

// cacheOps turns a cache history into operation records.
func cacheOps(h *CacheHistory) []OpRecord {
	out := make([]OpRecord, 0, len(h.Ops))
	for _, op := range h.Ops {
		r := OpRecord{Service: "caches", Kind: op.Op.Kind.String(), Client: op.Op.Client, Key: op.Op.Key, Call: op.Call}
		switch {
		case !op.Done:
			r.Outcome = OutcomeUnknown
		case op.Reply.Service != nodes.ServiceOK:
			r.Return, r.Outcome, r.Detail = op.Return, OutcomeFail, op.Reply.Service.String()+": "+op.Reply.Detail
		default:
			r.Return, r.Outcome = op.Return, OutcomeOK
			if op.Reply.Hit {
				r.Detail = "hit"
			}
		}
		out = append(out, r)
	}
	return out
}
