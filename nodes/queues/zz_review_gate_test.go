package queues

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/sim"
)

func reviewWorld(t *testing.T, seed sim.Seed, all, initial []nodes.NodeID, cfg Config, d *driver) *sim.World {
	cfg.Servers = initial
	newServer, err := NewServer(cfg)
	require.NoError(t, err)
	w, err := sim.New(sim.Config{
		Seed: seed, Nodes: append(slices.Clone(all), driverID),
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 2*time.Millisecond)},
		Disk:    sim.DiskConfig{WriteLatency: sim.Constant(10 * time.Microsecond), SyncLatency: sim.Constant(200 * time.Microsecond)},
		Factory: func(id nodes.NodeID) nodes.Node {
			if id == driverID {
				return d
			}
			return newServer(id)
		},
		WireCheck: true,
	})
	require.NoError(t, err)
	return w
}

// Multi-hop move: G0 holds an acked message but cannot export (its
// majority is down); G1 is created, gated, then superseded by G2 before G0
// ever sent a chunk. G2 opens as soon as G1's (empty) export lands or G1
// is declared absent, without G0's state.
func TestReviewGateBypassTwoHops(t *testing.T) {
	all := serverIDs(5)
	h0 := []nodes.NodeID{"n1", "n2", "n3"}
	h1 := []nodes.NodeID{"n1", "n2", "n3", "n4"}
	h2 := []nodes.NodeID{"n1", "n2", "n3", "n4", "n5"}
	hash, _ := hashring.HashByName("md5")
	p, err := newPlacement(hashring.DefaultVNodes, hash, 3, h0)
	require.NoError(t, err)
	require.NoError(t, p.extend([]Membership{{0, h0}, {1, h1}, {2, h2}}))
	var q string
	var x nodes.NodeID
	for i := 0; i < 10000 && q == ""; i++ {
		name := fmt.Sprintf("q%d", i)
		s0, s1, s2 := sortedSet(p.pref(name, 0)), sortedSet(p.pref(name, 1)), sortedSet(p.pref(name, 2))
		if slices.Equal(s0, s1) || slices.Equal(s1, s2) {
			continue
		}
		for _, c := range s1 {
			if c == "n4" {
				continue
			}
			up := []nodes.NodeID{c, "n4", "n5"}
			n := 0
			for _, m := range s2 {
				if slices.Contains(up, m) {
					n++
				}
			}
			if n >= 2 && slices.Contains(up, p.pref(name, 2)[0]) {
				q, x = name, c
				break
			}
		}
	}
	require.NotEmpty(t, q)
	t.Logf("queue %s: G0 %v, G1 %v, G2 %v; survivor of G0: %s", q, p.pref(q, 0), p.pref(q, 1), p.pref(q, 2), x)

	d := newDriver("n1", step{name: "enq", build: enqueueReq("p", 1, q, "m1")})
	w := reviewWorld(t, 1, all, h0, Config{}, d)
	runDriver(t, w, d, 5*time.Second)
	id1 := requireOK(t, d.result("enq")).ID
	t.Logf("m1 acked in G0 with id %d", id1)

	var down []nodes.NodeID
	for _, id := range h0 {
		if id != x {
			down = append(down, id)
			require.NoError(t, w.Crash(id))
		}
	}
	up := []nodes.NodeID{x, "n4", "n5"}
	for _, id := range up {
		require.NoError(t, w.Inject(id, &RingUpdate{History: []Membership{{0, h0}, {1, h1}}}))
	}
	// A client pokes the queue so that G1 is created (it stays gated).
	d.target = x
	d.steps = append(d.steps, step{name: "poke", build: dequeueReq("c", 1, q, time.Second)})
	require.NoError(t, w.Run(w.Now()+time.Second))
	require.False(t, d.done(), "G1 served before G0's state arrived")
	for _, id := range up {
		require.NoError(t, w.Inject(id, &RingUpdate{History: []Membership{{0, h0}, {1, h1}, {2, h2}}}))
	}
	// Then: the producer retries its enqueue (same client, same seq), a newer
	// message is enqueued, and a consumer reads.
	d.steps = append(d.steps,
		step{name: "retry enq", build: enqueueReq("p", 1, q, "m1")},
		step{name: "enq2", build: enqueueReq("p", 2, q, "m2")},
		step{name: "get", build: dequeueReq("c", 2, q, time.Minute)},
	)
	runDriver(t, w, d, 5*time.Second)
	t.Logf("poke: %s", d.result("poke"))
	retry := d.result("retry enq")
	get := d.result("get")
	t.Logf("retry of (p,1): %s", retry)
	t.Logf("first dequeue after the move: %s", get)
	// Restart G0's majority: G0 now exports m1 into G2.
	for _, id := range down {
		require.NoError(t, w.Restart(id))
	}
	require.NoError(t, w.Run(w.Now()+5*time.Second))
	g2, _ := server(t, w, "n5").Placement(q)
	for _, id := range all {
		if r := server(t, w, id).Group(g2); r != nil {
			t.Logf("%s: %s holds %d ready, %d in flight; has m1 id %d: %v", id, g2, r.Manager().Stats().Ready, r.Manager().Stats().InFlight, id1, r.Manager().Has(id1))
		}
	}
	require.True(t, retry.Result.Duplicate || retry.Result.ID == id1, "retry of an applied enqueue was applied again as id %d (first: %d)", retry.Result.ID, id1)
	require.Equal(t, id1, get.Result.ID, "FIFO: first dequeue returned %q instead of m1", get.Result.Payload)
	_ = queue.StatusOK
}
