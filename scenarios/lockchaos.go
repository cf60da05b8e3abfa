package scenarios

import (
	"fmt"
	"io"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/sim"
)

// LockChaos configures one chaos run of the lock service: five servers and
// six clients on an unreliable network, with crashes, partitions, pauses,
// clogs and disk faults on the servers.
type LockChaos struct {
	Seed     sim.Seed
	Servers  int
	Clients  int
	Duration time.Duration // fault phase
	Settle   time.Duration // quiet phase: liveness must return
	Every    time.Duration // mean time between faults
	Trace    io.Writer     // JSON Lines trace, if not nil
}

// LockResult is the outcome of one lock chaos run.
type LockResult struct {
	Seed           sim.Seed
	TraceHash      string
	Stats          sim.Stats
	Grants         uint64
	Terms          uint64
	Linearizable   Linearizability
	Failure        string
	SessionsExpire uint64
}

// OK reports whether every check held.
func (r LockResult) OK() bool { return r.Failure == "" }

// LockChaosCluster returns the cluster a LockChaos run builds.
func LockChaosCluster(c LockChaos) LockCluster {
	return LockCluster{
		Seed: c.Seed, Servers: c.Servers, Clients: c.Clients,
		Server: locks.Config{SnapshotEvery: 200},
		Client: locks.ClientConfig{
			Resources: 4, Shared: 0.3, TTL: 30 * time.Second,
			Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second},
		},
		Network: sim.LinkConfig{
			Latency: sim.Exponential(time.Millisecond, 3*time.Millisecond),
			Loss:    0.05, Duplicate: 0.02, Reorder: 0.05, ReorderDelay: 30 * time.Millisecond,
		},
		Disk:     sim.DiskConfig{SyncLatency: sim.Normal(time.Millisecond, 200*time.Microsecond), TornWrites: 0.5},
		Duration: c.Duration + c.Settle, Settle: c.Settle,
		Chaos: sim.Chaos{Every: c.Every, Crashes: true, Partitions: true, Pauses: true, Clogs: true, Disk: true},
	}
}

// RunLockChaos runs the lock service under chaos and checks Raft safety and
// lock safety after every event, liveness at the end, and the clients'
// history for linearizability (porcupine, 10s budget; Unknown is reported
// as such).
func RunLockChaos(c LockChaos) (LockResult, error) {
	if c.Servers < 1 || c.Clients < 1 || c.Duration <= 0 || c.Settle <= 0 || c.Every <= 0 {
		return LockResult{}, fmt.Errorf("lock chaos: servers %d, clients %d, duration %v, settle %v and every %v must be positive",
			c.Servers, c.Clients, c.Duration, c.Settle, c.Every)
	}
	cl := LockChaosCluster(c)
	ls, err := NewLockSim(cl)
	if err != nil {
		return LockResult{}, err
	}
	if c.Trace != nil {
		ls.World.Trace().Stream(c.Trace)
		ls.World.SetMessageDescriber(func(m nodes.Message) string { return fmt.Sprint(m) })
	}
	res := LockResult{Seed: c.Seed}
	runErr := ls.Run(cl.Duration, cl.Settle)
	res.TraceHash, res.Stats, res.Terms = ls.World.Trace().HashString(), ls.World.Stats(), ls.MaxTerm()
	res.Grants, _, _ = ls.ClientStats()
	if err := ls.World.Trace().Flush(); err != nil {
		return res, err
	}
	if runErr != nil {
		res.Failure = runErr.Error()
		return res, nil
	}
	if l := ls.Server(ls.Leader()); l != nil {
		res.SessionsExpire = l.Manager().Stats().Expired
	}
	res.Linearizable, _ = ls.History.CheckLinearizable(10 * time.Second)
	if res.Linearizable == NotLinearizable {
		res.Failure = "linearizable: the clients' lock history has no linearization"
	}
	return res, nil
}
