package sim_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

// chaosRun runs five gossip nodes for 10 virtual seconds under every fault
// kind the kernel has: loss, duplication, reordering, partitions of every
// shape, crashes with torn writes, pauses, clogs, clock faults and disk
// faults. It returns the trace hash and the number of faults that fired.
func chaosRun(t *testing.T, seed sim.Seed) (string, sim.Stats) {
	t.Helper()
	w, err := sim.New(sim.Config{
		Seed: seed, Nodes: ids(5), Factory: gossip.New(20 * time.Millisecond),
		Network: sim.LinkConfig{
			Latency: sim.Exponential(time.Millisecond, 5*time.Millisecond),
			Loss:    0.05, Duplicate: 0.05, Reorder: 0.05, ReorderDelay: 20 * time.Millisecond,
		},
		Disk: sim.DiskConfig{
			WriteLatency: sim.Uniform(10*time.Microsecond, 100*time.Microsecond),
			SyncLatency:  sim.Normal(time.Millisecond, 300*time.Microsecond),
			TornWrites:   0.5,
		},
		WireCheck: true,
	})
	require.NoError(t, err)
	require.NoError(t, sim.AllFaults(300*time.Millisecond).Schedule(w, 10*time.Second))
	require.NoError(t, w.Run(10*time.Second))
	return w.Trace().HashString(), w.Stats()
}

func TestSameSeedSameTrace(t *testing.T) {
	seeds := []sim.Seed{0, 1, 2, 42, 913, 1 << 40, 0xdeadbeefcafef00d}
	if testing.Short() {
		seeds = seeds[:3]
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var torn uint64
	for _, seed := range seeds {
		runtime.GOMAXPROCS(1)
		h1, st := chaosRun(t, seed)
		runtime.GOMAXPROCS(2)
		h2, _ := chaosRun(t, seed)
		require.Equal(t, h1, h2, "seed %d: trace hash differs between runs", seed)
		// The run must really have been under fire, or the test proves little.
		assert.Positive(t, st.Crashes, "seed %d: no crash fired", seed)
		assert.Positive(t, st.Net.DroppedLoss, "seed %d", seed)
		assert.Positive(t, st.Net.Duplicated, "seed %d", seed)
		assert.Positive(t, st.Partitions+st.Pauses, "seed %d", seed)
		torn += st.Disk.TornWrites
	}
	assert.Positive(t, torn, "no crash tore a write in any seed")
}

func TestDifferentSeedsDifferentTraces(t *testing.T) {
	seen := map[string]sim.Seed{}
	for seed := sim.Seed(100); seed < 110; seed++ {
		h, _ := chaosRun(t, seed)
		if other, dup := seen[h]; dup {
			t.Fatalf("seeds %d and %d gave the same trace hash %s", other, seed, h)
		}
		seen[h] = seed
	}
}

func TestSeedStreamsAreIndependent(t *testing.T) {
	a := sim.Seed(5).Stream("network")
	b := sim.Seed(5).Stream("network")
	c := sim.Seed(5).Stream("disk/n1")
	d := sim.Seed(6).Stream("network")
	for i := 0; i < 100; i++ {
		x := a.Uint64()
		require.Equal(t, x, b.Uint64(), "same seed and name give the same stream")
		assert.NotEqual(t, x, c.Uint64(), "another name gives another stream")
		assert.NotEqual(t, x, d.Uint64(), "another seed gives another stream")
	}
}

func TestCheckerStopsAtFirstViolation(t *testing.T) {
	w, err := sim.New(sim.Config{Seed: 1, Nodes: ids(3), Factory: gossip.New(0), Network: fixed})
	require.NoError(t, err)
	w.AddChecker("at-most-two-tokens", func(w *sim.World) error {
		for _, id := range w.Nodes() {
			if g, ok := w.Node(id).(*gossip.Node); ok && len(g.Known()) > 2 {
				return assert.AnError
			}
		}
		return nil
	})
	err = w.Run(time.Second)
	var v *sim.Violation
	require.ErrorAs(t, err, &v)
	assert.Equal(t, "at-most-two-tokens", v.Checker)
	assert.Positive(t, v.At)
	assert.Equal(t, w.Stats().Events, v.Event, "the run stopped at the violating event")
	require.ErrorIs(t, w.Run(2*time.Second), v, "a stopped run stays stopped")
}
