package scenarios

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/sim"
)

// ScalingConfig is the lock workload `distsync bench scaling` runs at each
// cluster size: the same clients, network and disk, only Servers changes.
type ScalingConfig struct {
	Seed    sim.Seed
	Servers int // lock servers n1..nN (1..9)
	Clients int // closed-loop clients c1..cM (1..64)
	// Warmup runs first and is not measured: the first election and the
	// clients opening their sessions.
	Warmup time.Duration
	// Measure is the measured window of virtual time, after Warmup.
	Measure time.Duration
	Network sim.LinkConfig
	Disk    sim.DiskConfig
	Client  locks.ClientConfig
	// NoGroupCommit makes every server sync once per request (the lock
	// server's DisableGroupCommit), to show what group commit buys.
	NoGroupCommit bool
	// Checked runs the Raft and lock-table checkers after every event and
	// the wire check (slower; the figures are the same, since checkers
	// only observe).
	Checked bool
}

// DefaultScaling returns the scaling workload: 64 closed-loop clients
// (the most a lock cluster takes) that acquire an exclusive lock on one of
// 1,024 resources (so that they rarely contend), hold it 1ms on average,
// release it, think 1ms on average, and again; a LAN-like network (one
// way uniform in 0.5–3ms, no loss) and a disk whose fsync takes 0.5ms.
// With this many clients and this little think time the cluster, not the
// clients' pacing, bounds throughput.
func DefaultScaling() ScalingConfig {
	return ScalingConfig{
		Seed: 1, Servers: 3, Clients: 64,
		Warmup: time.Second, Measure: 20 * time.Second,
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 3*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
		Client: locks.ClientConfig{
			Resources: 1024, Think: time.Millisecond, Hold: time.Millisecond, TTL: 30 * time.Second,
			Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second},
		},
	}
}

// ScalingPoint is what one cluster size measured over the window.
type ScalingPoint struct {
	Servers int
	Clients int
	Window  time.Duration // measured virtual time
	// Ops is acquires granted plus releases done within the window;
	// OpsPerSec the same per virtual second.
	Ops       int
	OpsPerSec float64
	// Acquires is the granted acquires the latencies are drawn from.
	Acquires               int
	AcquireP50, AcquireP99 time.Duration
	// Rejected counts acquires refused within the window (a wait timed
	// out, or a deadlock victim); Retries the clients' retransmissions
	// and redirections within it.
	Rejected int
	Retries  uint64
	// Events, Messages and Syncs count within the window.
	Events, Messages, Syncs uint64
	// Elections is how many leaders took office (whole run): more than
	// one means the measurement includes a change of leader.
	Elections int
	// Wall is how long the whole run took.
	Wall time.Duration
}

// Validate reports an impossible scaling configuration.
func (c ScalingConfig) Validate() error {
	switch {
	case c.Servers < 1 || c.Servers > 9:
		return fmt.Errorf("scaling: servers: %d outside [1, 9]", c.Servers)
	case c.Clients < 1 || c.Clients > 64:
		return fmt.Errorf("scaling: clients: %d outside [1, 64]", c.Clients)
	case c.Warmup < 0:
		return fmt.Errorf("scaling: warmup: negative %v", c.Warmup)
	case c.Measure <= 0:
		return fmt.Errorf("scaling: measure: %v, want > 0", c.Measure)
	}
	return nil
}

// MeasureScaling runs the workload of c at its cluster size and measures
// throughput and acquire latency over the window after the warmup.
func MeasureScaling(c ScalingConfig) (ScalingPoint, error) {
	if err := c.Validate(); err != nil {
		return ScalingPoint{}, err
	}
	start := time.Now()
	ls, err := NewLockSim(LockCluster{
		Seed: c.Seed, Servers: c.Servers, Clients: c.Clients, Client: c.Client,
		Server:  locks.Config{DisableGroupCommit: c.NoGroupCommit},
		Network: c.Network, Disk: c.Disk, Duration: c.Warmup + c.Measure, Unchecked: !c.Checked,
	})
	if err != nil {
		return ScalingPoint{}, err
	}
	w := ls.World
	if err := w.Run(c.Warmup); err != nil {
		return ScalingPoint{}, fmt.Errorf("scaling: %d servers: warmup: %w", c.Servers, err)
	}
	before := w.Stats()
	_, _, retries := ls.ClientStats()
	end := c.Warmup + c.Measure
	if err := w.Run(end); err != nil {
		return ScalingPoint{}, fmt.Errorf("scaling: %d servers: %w", c.Servers, err)
	}
	after := w.Stats()
	p := ScalingPoint{
		Servers: c.Servers, Clients: c.Clients, Window: c.Measure,
		Events: after.Events - before.Events, Messages: after.Net.Sent - before.Net.Sent,
		Syncs: after.Disk.Syncs - before.Disk.Syncs, Elections: len(ls.Elections),
	}
	var lat []time.Duration
	for _, op := range ls.History.Ops {
		if !op.Done || op.Return < c.Warmup || op.Return > end {
			continue
		}
		granted := op.Result.Status == lockmgr.StatusGranted
		switch op.Op.Kind {
		case locks.OpAcquire:
			if !granted {
				p.Rejected++
				continue
			}
			p.Ops++
			lat = append(lat, op.Return-op.Call)
		case locks.OpRelease:
			if op.Result.Status != lockmgr.StatusRejected {
				p.Ops++
			}
		}
	}
	_, _, p.Retries = ls.ClientStats()
	p.Retries -= retries
	p.OpsPerSec = float64(p.Ops) / c.Measure.Seconds()
	p.Acquires = len(lat)
	slices.Sort(lat)
	p.AcquireP50, p.AcquireP99 = scalingQuantile(lat, 0.50), scalingQuantile(lat, 0.99)
	p.Wall = time.Since(start)
	return p, nil
}

// scalingQuantile returns the q-quantile (0..1) of sorted by the nearest-rank
// method, or 0 for none.
func scalingQuantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
