package scenarios

import (
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/sim"
)

// ScriptedCluster configures a lock cluster whose clients c1..cM run
// Scripts[0..M-1].
type ScriptedCluster struct {
	Seed    sim.Seed
	Servers int // lock servers s1..sN (1..9)
	Server  locks.Config
	Scripts []Script
	Network sim.LinkConfig
	Disk    sim.DiskConfig
	// Observer, if not nil, is told of every apply and restore too.
	Observer locks.ApplyObserver
}

// ScriptedSim is a built scripted cluster: a LockSim (its world, history
// and checkers) whose clients are ScriptedClients.
type ScriptedSim struct {
	*LockSim
}

// NewScriptedLockSim builds the world of c with the Raft and lock-table
// checkers of NewLockSim registered (checked after every event) and the
// wire check on. The clients record their requests in the LockSim's
// History.
func NewScriptedLockSim(c ScriptedCluster) (*ScriptedSim, error) {
	if c.Servers < 1 || c.Servers > 9 {
		return nil, fmt.Errorf("scripted cluster: servers: %d outside [1, 9]", c.Servers)
	}
	if len(c.Scripts) > 64 {
		return nil, fmt.Errorf("scripted cluster: scripts: %d clients, at most 64", len(c.Scripts))
	}
	ls := &LockSim{
		Servers: serverIDs(c.Servers), Clients: clientIDs(len(c.Scripts)),
		History: &History{}, Raft: raft.NewClusterChecker(),
		booting: map[nodes.NodeID]bool{}, installed: map[nodes.NodeID]int{},
		lastLocks: map[nodes.NodeID]checkedAt{}, lastRaft: map[nodes.NodeID]raftSeen{},
	}
	isServer := map[nodes.NodeID]bool{}
	for _, id := range ls.Servers {
		isServer[id] = true
	}
	checkServers := func(field string, ids []nodes.NodeID) error {
		for k, id := range ids {
			if !isServer[id] {
				return fmt.Errorf("scripted cluster: %s[%d]: %q is not a server of the cluster", field, k, id)
			}
		}
		return nil
	}
	for i, s := range c.Scripts {
		if err := checkServers(fmt.Sprintf("scripts[%d].servers", i), s.Servers); err != nil {
			return nil, err
		}
		for j, st := range s.Steps {
			if st.Kind < StepOpen || st.Kind > StepQuery {
				return nil, fmt.Errorf("scripted cluster: scripts[%d].steps[%d]: unknown kind %d", i, j, st.Kind)
			}
			if err := checkServers(fmt.Sprintf("scripts[%d].steps[%d].servers", i, j), st.Servers); err != nil {
				return nil, err
			}
		}
	}
	scfg := c.Server
	scfg.Servers = ls.Servers
	scfg.Observer = ls
	if c.Observer != nil {
		scfg.Observer = teeObserver{ls, c.Observer}
	}
	newServer, err := locks.NewServer(scfg)
	if err != nil {
		return nil, err
	}
	factories := map[nodes.NodeID]nodes.Factory{}
	for i, id := range ls.Clients {
		factories[id] = NewScriptedClient(c.Scripts[i], ls.Servers, ls.History)
	}
	all := append(append([]nodes.NodeID(nil), ls.Servers...), ls.Clients...)
	w, err := sim.New(sim.Config{
		Seed: c.Seed, Nodes: all, Network: c.Network, Disk: c.Disk, WireCheck: true,
		Factory: func(id nodes.NodeID) nodes.Node {
			if f, ok := factories[id]; ok {
				return f(id)
			}
			return newServer(id)
		},
	})
	if err != nil {
		return nil, err
	}
	ls.World = w
	ls.History.now = w.Now
	w.AddChecker("raft-safety", ls.checkRaft)
	w.AddChecker("lock-safety", ls.checkLocks)
	return &ScriptedSim{LockSim: ls}, nil
}

// Client returns scripted client id (nil if id is not one, or is down).
func (ss *ScriptedSim) Client(id nodes.NodeID) *ScriptedClient {
	c, _ := ss.World.Node(id).(*ScriptedClient)
	return c
}

// ScriptErrors returns the error of every client whose script failed.
func (ss *ScriptedSim) ScriptErrors() []error {
	var out []error
	for _, id := range ss.Clients {
		if c := ss.Client(id); c != nil && c.Err != nil {
			out = append(out, c.Err)
		}
	}
	return out
}

// teeObserver tells two observers of everything a server applies.
type teeObserver struct{ a, b locks.ApplyObserver }

func (t teeObserver) Started(id nodes.NodeID) { t.a.Started(id); t.b.Started(id) }
func (t teeObserver) Applied(id nodes.NodeID, e raft.Entry) {
	t.a.Applied(id, e)
	t.b.Applied(id, e)
}
func (t teeObserver) Restored(id nodes.NodeID, snap raft.Snapshot) {
	t.a.Restored(id, snap)
	t.b.Restored(id, snap)
}
func (t teeObserver) RoleChanged(id nodes.NodeID, ss raft.SoftState, term uint64) {
	t.a.RoleChanged(id, ss, term)
	t.b.RoleChanged(id, ss, term)
}
