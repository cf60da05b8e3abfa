package sim_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/sim"
)

var fixed = sim.LinkConfig{Latency: sim.Constant(5 * time.Millisecond)}

func world(t *testing.T, ps *probes, n int, net sim.LinkConfig) *sim.World {
	t.Helper()
	w, err := sim.New(sim.Config{Seed: 7, Nodes: ids(n), Factory: ps.factory, Network: net, WireCheck: true})
	require.NoError(t, err)
	return w
}

func TestLossOneDropsEverything(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 100, time.Millisecond)
	w := world(t, ps, 2, sim.LinkConfig{Latency: sim.Constant(time.Millisecond), Loss: 1})
	require.NoError(t, w.Run(time.Second))
	assert.Empty(t, ps.got("n2"))
	st := w.Stats().Net
	assert.EqualValues(t, 100, st.Sent)
	assert.EqualValues(t, 100, st.DroppedLoss)
	assert.Zero(t, st.Delivered)
}

func TestPartialLossDropsAFraction(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 2000, time.Millisecond)
	w := world(t, ps, 2, sim.LinkConfig{Latency: sim.Constant(time.Millisecond), Loss: 0.25})
	require.NoError(t, w.Run(5*time.Second))
	got := len(ps.got("n2"))
	assert.InDelta(t, 1500, got, 100, "about 75%% of 2000 should arrive")
	assert.EqualValues(t, 2000-got, w.Stats().Net.DroppedLoss)
}

func TestOneWayPartitionDropsOneDirection(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 10, 10*time.Millisecond)
	ps.script["n2"] = sendEvery("n1", 10, 10*time.Millisecond)
	w := world(t, ps, 2, fixed)
	require.NoError(t, w.PartitionOneWay([]nodes.NodeID{"n1"}, []nodes.NodeID{"n2"}))
	require.NoError(t, w.Run(time.Second))
	assert.Empty(t, ps.got("n2"), "n1 -> n2 is cut")
	assert.Len(t, ps.got("n1"), 10, "n2 -> n1 still works")
	assert.EqualValues(t, 10, w.Stats().Net.DroppedPartition)
}

func TestPartitionShapes(t *testing.T) {
	// Every node pings every other node once; the table says who may hear whom.
	type link struct{ from, to nodes.NodeID }
	cases := []struct {
		name  string
		apply func(w *sim.World) error
		cut   []link
	}{
		{"groups", func(w *sim.World) error {
			return w.Partition([][]nodes.NodeID{{"n1", "n2"}, {"n3"}})
		}, []link{{"n1", "n3"}, {"n3", "n1"}, {"n2", "n3"}, {"n3", "n2"}}},
		{"isolate", func(w *sim.World) error { return w.Isolate("n2") },
			[]link{{"n1", "n2"}, {"n2", "n1"}, {"n3", "n2"}, {"n2", "n3"}}},
		{"bridge", func(w *sim.World) error {
			return w.Bridge([]nodes.NodeID{"n1"}, "n2", []nodes.NodeID{"n3"})
		}, []link{{"n1", "n3"}, {"n3", "n1"}}},
		{"heal", func(w *sim.World) error {
			if err := w.Isolate("n1"); err != nil {
				return err
			}
			w.Heal()
			return nil
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := newProbes()
			all := ids(3)
			for _, from := range all {
				ps.script[from] = func(env nodes.Env, tm nodes.Timer) {
					if tm.Kind != "start" {
						return
					}
					for _, to := range all {
						if to != env.ID() {
							env.Send(to, &ping{})
						}
					}
				}
			}
			w := world(t, ps, 3, fixed)
			require.NoError(t, tc.apply(w))
			require.NoError(t, w.Run(time.Second))
			for _, from := range all {
				for _, to := range all {
					if from == to {
						continue
					}
					heard := false
					for _, r := range ps.got(to) {
						heard = heard || r.from == from
					}
					isCut := false
					for _, c := range tc.cut {
						isCut = isCut || c == link{from, to}
					}
					assert.Equal(t, !isCut, heard, "%s -> %s", from, to)
				}
			}
		})
	}
}

func TestPartitionDropsMessagesInFlight(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 1, 0)
	w := world(t, ps, 2, sim.LinkConfig{Latency: sim.Constant(100 * time.Millisecond)})
	w.At(50*time.Millisecond, "isolate", func(w *sim.World) { require.NoError(t, w.Isolate("n2")) })
	require.NoError(t, w.Run(time.Second))
	assert.Empty(t, ps.got("n2"))
	assert.EqualValues(t, 1, w.Stats().Net.DroppedPartition)
}

func TestDuplicationDeliversTwice(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 5, 10*time.Millisecond)
	w := world(t, ps, 2, sim.LinkConfig{Latency: sim.Constant(time.Millisecond), Duplicate: 1})
	require.NoError(t, w.Run(time.Second))
	got := ps.got("n2")
	require.Len(t, got, 10)
	count := map[uint64]int{}
	for _, r := range got {
		count[r.n]++
	}
	for n := uint64(0); n < 5; n++ {
		assert.Equal(t, 2, count[n], "ping %d", n)
	}
	assert.EqualValues(t, 5, w.Stats().Net.Duplicated)
}

func TestLinksAreFIFOUnlessReordered(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reorder   float64
		wantOrder bool
	}{{"fifo", 0, true}, {"reorder", 0.5, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ps := newProbes()
			ps.script["n1"] = sendEvery("n2", 200, 100*time.Microsecond)
			w := world(t, ps, 2, sim.LinkConfig{
				Latency: sim.Uniform(time.Millisecond, 20*time.Millisecond),
				Reorder: tc.reorder, ReorderDelay: 50 * time.Millisecond,
			})
			require.NoError(t, w.Run(time.Second))
			got := ps.got("n2")
			require.Len(t, got, 200)
			inOrder := true
			for i := 1; i < len(got); i++ {
				inOrder = inOrder && got[i-1].n < got[i].n
			}
			assert.Equal(t, tc.wantOrder, inOrder)
			assert.Equal(t, tc.reorder > 0, w.Stats().Net.Reordered > 0)
		})
	}
}

func TestClogDelaysOneLinkForAWindow(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 3, 600*time.Millisecond)
	w := world(t, ps, 2, fixed)
	require.NoError(t, w.Clog("n1", "n2", time.Second, 50*time.Millisecond))
	require.NoError(t, w.Run(3*time.Second))
	got := ps.got("n2")
	require.Len(t, got, 3)
	// The first ping is sent inside the window and takes 5ms + 1s; the
	// second, sent at 600ms, takes 5ms but FIFO holds it behind the first
	// (head-of-line blocking, as on a TCP connection); the third, at
	// 1200ms, is not delayed.
	assert.Equal(t, sim.Epoch.Add(1005*time.Millisecond), got[0].at)
	assert.Equal(t, sim.Epoch.Add(1005*time.Millisecond), got[1].at)
	assert.Equal(t, sim.Epoch.Add(1205*time.Millisecond), got[2].at)
	assert.EqualValues(t, 1, w.Stats().Net.Clogged)
}

func TestSkewAndDriftShowInNow(t *testing.T) {
	var seen []time.Time
	var fired []time.Duration
	var w *sim.World
	ps := newProbes()
	ps.script["n1"] = func(env nodes.Env, tm nodes.Timer) {
		seen = append(seen, env.Now())
		if tm.Kind == "start" {
			env.SetTimer(time.Second, nodes.Timer{Kind: "tick"})
			return
		}
		fired = append(fired, w.Now())
	}
	w = world(t, ps, 1, fixed)
	require.NoError(t, w.SkewClock("n1", 3*time.Second))
	require.NoError(t, w.SetDrift("n1", 0.25))
	require.NoError(t, w.Run(2*time.Second))
	require.Len(t, seen, 2)
	assert.Equal(t, sim.Epoch.Add(3*time.Second), seen[0])
	// A 1s local timer on a clock running 25% fast fires after 800ms of
	// virtual time, when the local clock reads 3s + 1s.
	assert.Equal(t, []time.Duration{800 * time.Millisecond}, fired)
	assert.Equal(t, sim.Epoch.Add(4*time.Second), seen[1])
	now, err := w.LocalTime("n1")
	require.NoError(t, err)
	assert.Equal(t, sim.Epoch.Add(3*time.Second+2500*time.Millisecond), now)
}

// diskScript appends "synced" and syncs it, then appends "unsynced" without
// a sync.
func diskScript(env nodes.Env, tm nodes.Timer) {
	if tm.Kind != "start" {
		return
	}
	f, err := env.Disk().Open("data")
	if err != nil {
		panic(err)
	}
	if f.Size() > 0 {
		return // restarted: leave the disk for the test to read
	}
	_, _ = f.Append([]byte("synced|"))
	_ = f.Sync()
	_, _ = f.Append(make([]byte, 4096)) // eight sectors, unsynced
}

func readAll(t *testing.T, w *sim.World, id nodes.NodeID, name string) []byte {
	t.Helper()
	d, err := w.NodeDisk(id)
	require.NoError(t, err)
	f, err := d.Open(name)
	require.NoError(t, err)
	buf := make([]byte, f.Size())
	_, err = f.ReadAt(buf, 0)
	if err != io.EOF {
		require.NoError(t, err)
	}
	return buf
}

func TestCrashLosesUnsyncedWritesAndKeepsSynced(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = diskScript
	w := world(t, ps, 1, fixed)
	require.NoError(t, w.Run(time.Millisecond))
	require.Len(t, readAll(t, w, "n1", "data"), 7+4096)
	require.NoError(t, w.Crash("n1"))
	assert.Equal(t, []byte("synced|"), readAll(t, w, "n1", "data"))
	st, err := w.DiskStats("n1")
	require.NoError(t, err)
	assert.EqualValues(t, 4096, st.LostBytes)
	require.NoError(t, w.Restart("n1"))
	require.NoError(t, w.Run(2*time.Millisecond))
	assert.True(t, w.Up("n1"))
}

func TestTornWriteLeavesASectorPrefix(t *testing.T) {
	torn := 0
	for seed := sim.Seed(0); seed < 20; seed++ {
		ps := newProbes()
		ps.script["n1"] = diskScript
		w, err := sim.New(sim.Config{Seed: seed, Nodes: ids(1), Factory: ps.factory,
			Disk: sim.DiskConfig{TornWrites: 1, SectorBytes: 512}})
		require.NoError(t, err)
		require.NoError(t, w.Run(time.Millisecond))
		require.NoError(t, w.Crash("n1"))
		got := readAll(t, w, "n1", "data")
		require.GreaterOrEqual(t, len(got), 7)
		assert.Equal(t, []byte("synced|"), got[:7], "the synced part survives")
		assert.Less(t, len(got), 7+4096, "a torn write never survives whole")
		if len(got) > 7 {
			torn++
			assert.Zero(t, len(got)%512, "seed %d: cut at %d is not a sector boundary", seed, len(got))
		}
		st, err := w.DiskStats("n1")
		require.NoError(t, err)
		assert.EqualValues(t, 1, st.TornWrites)
	}
	assert.Greater(t, torn, 5, "most seeds keep a non-empty prefix")
}

func TestCorruptReadFlipsOneBit(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = diskScript
	w, err := sim.New(sim.Config{Seed: 3, Nodes: ids(1), Factory: ps.factory,
		Disk: sim.DiskConfig{CorruptRead: 1}})
	require.NoError(t, err)
	require.NoError(t, w.Run(time.Millisecond))
	want := append([]byte("synced|"), make([]byte, 4096)...)
	got := readAll(t, w, "n1", "data")
	diff := 0
	for i := range got {
		for b := got[i] ^ want[i]; b != 0; b &= b - 1 {
			diff++
		}
	}
	assert.Equal(t, 1, diff, "exactly one bit differs")
	st, _ := w.DiskStats("n1")
	assert.EqualValues(t, 1, st.CorruptReads)
}

func TestDiskLatencyDelaysTheNodesNextSend(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = func(env nodes.Env, tm nodes.Timer) {
		if tm.Kind != "start" {
			return
		}
		f, _ := env.Disk().Open("x")
		_, _ = f.Append([]byte("a"))
		_ = f.Sync()
		env.Send("n2", &ping{})
	}
	w, err := sim.New(sim.Config{Seed: 1, Nodes: ids(2), Factory: ps.factory, Network: fixed,
		Disk: sim.DiskConfig{WriteLatency: sim.Constant(time.Millisecond), SyncLatency: sim.Constant(10 * time.Millisecond)}})
	require.NoError(t, err)
	require.NoError(t, w.Run(time.Second))
	require.Len(t, ps.got("n2"), 1)
	assert.Equal(t, sim.Epoch.Add(16*time.Millisecond), ps.got("n2")[0].at, "1ms write + 10ms sync + 5ms network")
}

func TestCrashDropsTimersAndMessages(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 100, 10*time.Millisecond)
	w := world(t, ps, 2, fixed)
	w.At(95*time.Millisecond, "crash", func(w *sim.World) { require.NoError(t, w.Crash("n2")) })
	w.At(200*time.Millisecond, "restart", func(w *sim.World) { require.NoError(t, w.Restart("n2")) })
	w.At(300*time.Millisecond, "crash-sender", func(w *sim.World) { require.NoError(t, w.Crash("n1")) })
	require.NoError(t, w.Run(2*time.Second))
	got := ps.got("n2")
	// Pings sent at 0..80ms arrive before the crash (+5ms); the eleven
	// sent at 90..190ms reach a dead node (the one arriving at 95ms ties
	// with the crash, which was scheduled first); those sent at 200..290ms
	// arrive again; then the sender's timers die with it.
	assert.Len(t, got, 9+10)
	st := w.Stats()
	assert.EqualValues(t, 11, st.Net.DroppedDead)
	assert.EqualValues(t, 2, st.Crashes)
	assert.EqualValues(t, 1, st.Restarts)
}

func TestPauseDefersEverythingUntilResume(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = sendEvery("n2", 10, 10*time.Millisecond)
	w := world(t, ps, 2, fixed)
	w.At(0, "pause", func(w *sim.World) { require.NoError(t, w.Pause("n2")) })
	w.At(500*time.Millisecond, "resume", func(w *sim.World) { require.NoError(t, w.Resume("n2")) })
	require.NoError(t, w.Run(time.Second))
	got := ps.got("n2")
	require.Len(t, got, 10)
	for i, r := range got {
		assert.Equal(t, uint64(i), r.n, "order kept")
		assert.Equal(t, sim.Epoch.Add(500*time.Millisecond), r.at)
	}
}

func TestCancelledTimerNeverFires(t *testing.T) {
	ps := newProbes()
	ps.script["n1"] = func(env nodes.Env, tm nodes.Timer) {
		if tm.Kind != "start" {
			return
		}
		a := env.SetTimer(10*time.Millisecond, nodes.Timer{Kind: "a"})
		env.SetTimer(20*time.Millisecond, nodes.Timer{Kind: "b"})
		env.CancelTimer(a)
		env.CancelTimer(a) // twice is harmless
	}
	w := world(t, ps, 1, fixed)
	require.NoError(t, w.Run(time.Second))
	assert.Equal(t, []nodes.Timer{{Kind: "b"}}, *ps.fired["n1"])
}

func TestBadConfigurationIsAnErrorNamingTheField(t *testing.T) {
	base := func() sim.Config {
		return sim.Config{Seed: 1, Nodes: ids(3), Factory: newProbes().factory}
	}
	cases := []struct {
		name string
		edit func(c *sim.Config)
		want string
	}{
		{"negative latency", func(c *sim.Config) { c.Network.Latency = sim.Constant(-time.Millisecond) }, "network.latency: negative latency -1ms"},
		{"loss above one", func(c *sim.Config) { c.Network.Loss = 1.5 }, "network.loss: probability 1.5 outside [0,1]"},
		{"uniform max below min", func(c *sim.Config) { c.Network.Latency = sim.Uniform(5, 1) }, "uniform max"},
		{"torn writes", func(c *sim.Config) { c.Disk.TornWrites = -0.1 }, "disk.torn_writes"},
		{"duplicate node", func(c *sim.Config) { c.Nodes = []nodes.NodeID{"a", "a"} }, `nodes[1]: "a" listed twice`},
		{"bad node id", func(c *sim.Config) { c.Nodes = []nodes.NodeID{"a b"} }, "nodes[0]"},
		{"no nodes", func(c *sim.Config) { c.Nodes = nil }, "nodes: at least one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			_, err := sim.New(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBadFaultIsAnErrorNamingTheField(t *testing.T) {
	w := world(t, newProbes(), 3, fixed)
	require.NoError(t, w.Run(0)) // boot every node
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"unknown node in partition", w.Partition([][]nodes.NodeID{{"n1"}, {"n9"}}), `partition.groups[1]: unknown node "n9"`},
		{"overlapping groups", w.Partition([][]nodes.NodeID{{"n1", "n2"}, {"n2"}}), `partition.groups[1]: node "n2" is also in group 0`},
		{"bridge half", w.Bridge([]nodes.NodeID{"n1"}, "n2", nil), `bridge: node "n3" is in neither half`},
		{"restart a live node", w.Restart("n1"), "restart n1: node is up"},
		{"resume a running node", w.Resume("n1"), "resume n1: node is not paused"},
		{"drift", w.SetDrift("n1", 2), "drift 2 outside"},
		{"link loss", w.SetLink("n1", "n2", sim.LinkConfig{Loss: -1}), "link[n1->n2].loss"},
		{"clog unknown", w.Clog("n1", "zz", time.Second, time.Second), `clog: unknown node "zz"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			assert.Contains(t, tc.err.Error(), tc.want)
		})
	}
}

func TestRestartTwiceBeforeTheNodeStartsIsAnError(t *testing.T) {
	w := world(t, newProbes(), 2, fixed)
	require.NoError(t, w.Run(0))
	require.NoError(t, w.Crash("n1"))
	require.NoError(t, w.Restart("n1"))
	err := w.Restart("n1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already restarting")
	require.NoError(t, w.Run(time.Millisecond))
	assert.True(t, w.Up("n1"))
}
