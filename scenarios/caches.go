package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/distsync/distsync/sim"
)

// MemoryNode is the name of the memory node of a broadcast-mode cache
// cluster.
const MemoryNode nodes.NodeID = "mem"

// CacheCluster configures a simulated cache service.
type CacheCluster struct {
	Seed sim.Seed
	// Servers are the cache nodes n1..nN; broadcast mode adds MemoryNode.
	Servers int
	Server  caches.Config
	// Keys is the key space k0..k(Keys-1) the checkers watch (the clients'
	// key space).
	Keys     int
	Groups   []CacheClientGroup
	Network  sim.LinkConfig
	Disk     sim.DiskConfig
	Duration time.Duration
	Settle   time.Duration
	// Coherence turns on the per-event SWMR and data-value checks.
	Coherence bool
}

// CacheClientGroup is Count clients sharing one configuration.
type CacheClientGroup struct {
	Count  int
	Config caches.ClientConfig
}

// CacheSim is a built cache cluster: its world, its clients' history and
// the coherence checker that watches every event.
type CacheSim struct {
	World   *sim.World
	Servers []nodes.NodeID // cache nodes, and MemoryNode in broadcast mode
	Caches  []nodes.NodeID // cache nodes only
	Clients []nodes.NodeID
	History *CacheHistory
	keys    []string
	broad   bool
	// ghost is the last completed write of each key; lost marks keys whose
	// last write was lost with an M line (crash), until the next write.
	ghost map[string]mesi.Write
	lost  map[string]bool
	// LostWrites counts M lines lost with a crashed node's cache.
	LostWrites int
	// ghostAt is when each key's ghost write completed; crashedAt when a
	// node (or a node's cache side) was last seen to crash.
	ghostAt   map[string]time.Duration
	crashedAt time.Duration
	lastM     map[nodes.NodeID][]string // keys each node held in M at the last check
	err       error
}

// NewCacheSim builds the world of c.
func NewCacheSim(c CacheCluster) (*CacheSim, error) {
	total := 0
	for _, g := range c.Groups {
		total += g.Count
	}
	if c.Servers < 1 || c.Servers > 16 || total < 0 || total > 256 || c.Keys < 1 || c.Keys > 1<<16 {
		return nil, fmt.Errorf("cache cluster: servers %d (1..16), clients %d (0..256), keys %d (1..65536)", c.Servers, total, c.Keys)
	}
	cs := &CacheSim{
		Caches: serverIDs(c.Servers), Clients: clientIDs(total), History: newCacheHistory(),
		ghost: map[string]mesi.Write{}, lost: map[string]bool{}, lastM: map[nodes.NodeID][]string{},
		ghostAt: map[string]time.Duration{},
	}
	for i := range c.Keys {
		cs.keys = append(cs.keys, fmt.Sprintf("k%d", i))
	}
	scfg := c.Server
	scfg.Nodes = cs.Caches
	cs.Servers = slices.Clone(cs.Caches)
	if scfg.Protocol == caches.ProtocolBroadcast {
		scfg.Memory, cs.broad = MemoryNode, true
		cs.Servers = append(cs.Servers, MemoryNode)
	}
	scfg.Observer = cs
	newServer, err := caches.NewServer(scfg)
	if err != nil {
		return nil, fmt.Errorf("cache cluster: %w", err)
	}
	factories := map[nodes.NodeID]nodes.Factory{}
	for _, id := range cs.Servers {
		factories[id] = newServer
	}
	next := 0
	for i, g := range c.Groups {
		ccfg := g.Config
		ccfg.Servers, ccfg.Recorder = cs.Caches, cs.History
		f, err := caches.NewClient(ccfg)
		if err != nil {
			return nil, fmt.Errorf("cache cluster: client group %d: %w", i, err)
		}
		for range g.Count {
			factories[cs.Clients[next]] = f
			next++
		}
	}
	w, err := sim.New(sim.Config{
		Seed: c.Seed, Nodes: append(slices.Clone(cs.Servers), cs.Clients...), Network: c.Network, Disk: c.Disk, WireCheck: true,
		Factory: func(id nodes.NodeID) nodes.Node { return factories[id](id) },
	})
	if err != nil {
		return nil, err
	}
	cs.World = w
	cs.History.now = w.Now
	if c.Coherence {
		w.AddChecker("coherence", cs.checkCoherence)
	}
	return cs, nil
}

// protocol returns node id's protocol if it is up and started.
func (cs *CacheSim) protocol(id nodes.NodeID) mesi.Protocol {
	if !cs.World.Up(id) {
		return nil
	}
	s, _ := cs.World.Node(id).(*caches.Server)
	if s == nil || s.Protocol() == nil {
		return nil
	}
	return s.Protocol()
}

// Started implements caches.Observer.
func (cs *CacheSim) Started(nodes.NodeID) {}

// Completed implements caches.Observer: a completed put is the key's new
// last write (the ghost the data-value check compares copies with).
func (cs *CacheSim) Completed(_ nodes.NodeID, c mesi.Completion) {
	if !c.Put || c.Err != nil {
		return
	}
	if g, ok := cs.ghost[c.Key]; !ok || c.Version > g.Version || cs.lost[c.Key] {
		cs.ghost[c.Key] = mesi.Write{Value: slices.Clone(c.Value), Version: c.Version}
		cs.ghostAt[c.Key] = cs.World.Now()
		delete(cs.lost, c.Key)
	}
}

// Lost implements caches.Observer: node id dropped M lines holding the
// last writes of keys (its cache side crashed); they are counted, and the
// keys' ghosts are unknown until their next write.
func (cs *CacheSim) Lost(_ nodes.NodeID, keys []string) {
	cs.crashedAt = cs.World.Now()
	cs.History.crashed()
	for _, k := range keys {
		cs.LostWrites++
		cs.lost[k] = true
		cs.History.lostKeys[k] = true
	}
}

// checkCoherence checks SWMR and the data-value invariant of every key
// across the live nodes.
func (cs *CacheSim) checkCoherence(*sim.World) error {
	if cs.err != nil {
		return cs.err
	}
	lines := map[nodes.NodeID][]mesi.Line{}
	settled := map[string]bool{}
	for _, id := range cs.Servers {
		p := cs.protocol(id)
		if p == nil {
			// Down (however it crashed): the M lines it held at the last
			// check are lost writes.
			if m, ok := cs.lastM[id]; ok {
				cs.Lost(id, m) // also notes the crash time
				delete(cs.lastM, id)
			}
			continue
		}
		lines[id] = p.Lines()
		cs.lastM[id] = cs.lastM[id][:0]
		for _, l := range lines[id] {
			if l.State == mesi.Modified {
				cs.lastM[id] = append(cs.lastM[id], l.Key)
			}
		}
	}
	stale := cs.staleStreams()
	for _, key := range cs.keys {
		states := map[mesi.NodeID]mesi.State{}
		copies := map[mesi.NodeID]mesi.Line{}
		for _, id := range cs.Servers {
			for _, l := range lines[id] {
				if l.Key == key {
					states[mesi.NodeID(id)], copies[mesi.NodeID(id)] = l.State, l
				}
			}
		}
		if err := mesi.CheckSWMR(key, states); err != nil {
			return err
		}
		if cs.lost[key] {
			continue
		}
		mem, ok := cs.memory(key)
		quiet := ok // memory is up, and nothing live may still change it
		for _, id := range cs.Servers {
			if p := cs.protocol(id); p != nil && !p.Settled(key) {
				quiet = false
			}
		}
		settled[key] = quiet && !stale
		if cs.lostInFlight(key, copies, mem, quiet) {
			continue
		}
		if err := mesi.CheckData(key, cs.ghost[key], copies, mem, settled[key]); err != nil {
			return err
		}
	}
	return nil
}

// lostInFlight recognises a last write lost in a crash while it was not in
// a stable M line (a write-back or a hand-over in flight to or from the
// crashed node): nothing live may still change memory, memory is older
// than the write, no live copy holds it, and a crash happened after the
// write completed. (A node that has not yet learned of a peer's restart
// may hold a copy built from the old incarnation's messages: such a copy
// is live, and seen here.) It is counted
// as a lost write. Without a crash since the write, the same state fails
// the data-value check.
func (cs *CacheSim) lostInFlight(key string, copies map[mesi.NodeID]mesi.Line, mem mesi.Write, settled bool) bool {
	g, ok := cs.ghost[key]
	if !ok || !settled || mem.Version >= g.Version || cs.crashedAt < cs.ghostAt[key] {
		return false
	}
	for _, l := range copies { //det:ordered only a yes/no answer leaves
		if l.Version >= g.Version {
			return false
		}
	}
	cs.LostWrites++
	cs.lost[key] = true
	cs.History.lostKeys[key] = true
	return true
}

// staleStreams reports whether some live node has not yet learned that a
// live peer restarted. Until it does, it may hold copies built from
// messages of the peer's old incarnation whose companions (a write-back, a
// hand-over to the home) died in the crash, so memory is not comparable
// with the copies. Every such copy is the value of a put in flight at the
// crash, already left out of the linearizability check.
func (cs *CacheSim) staleStreams() bool {
	for _, x := range cs.Servers {
		sx := cs.server(x)
		if sx == nil {
			continue
		}
		for _, y := range cs.Servers {
			if sy := cs.server(y); sy != nil && x != y {
				if e := sx.PeerEpoch(y); e > 0 && e < sy.Epoch() {
					return true
				}
			}
		}
	}
	return false
}

// server returns cache node id if it is up and started.
func (cs *CacheSim) server(id nodes.NodeID) *caches.Server {
	if !cs.World.Up(id) {
		return nil
	}
	s, _ := cs.World.Node(id).(*caches.Server)
	if s == nil || s.Protocol() == nil {
		return nil
	}
	return s
}

// memory reads key's backing store: its home's in directory mode, the
// memory node's in broadcast mode; false if that node is down.
func (cs *CacheSim) memory(key string) (mesi.Write, bool) {
	for _, id := range cs.Servers {
		p := cs.protocol(id)
		if p == nil {
			continue
		}
		if v, ver, ok := p.Memory(key); ok {
			return mesi.Write{Value: v, Version: ver}, true
		}
	}
	return mesi.Write{}, false
}

// Run runs the world until until; with liveness, every operation invoked
// before until-quiet must have its answer by until.
func (cs *CacheSim) Run(until, quiet time.Duration, liveness bool) error {
	if err := cs.World.Run(until); err != nil {
		return err
	}
	if !liveness {
		return nil
	}
	if op, ok := cs.History.OldestPending(); ok && op.Call < until-quiet {
		return fmt.Errorf("liveness at t=%v: %s of %s by %s (req %d) invoked at %v never completed",
			cs.World.Now(), op.Op.Kind, op.Op.Key, op.Op.Client, op.Op.Req, op.Call)
	}
	return nil
}
