package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// bareItem and bareHeap are the yardstick for BenchmarkScheduler: the
// smallest hand-written heap that orders (time, seq) pairs, with nothing
// else in its entries.
type bareItem struct{ at, seq int64 }

type bareHeap []bareItem

func (h *bareHeap) push(x bareItem) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at < x.at || s[p].at == x.at && s[p].seq < x.seq {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
}

func (h *bareHeap) pop() bareItem {
	s := *h
	top, n := s[0], len(s)-1
	last := s[n]
	s = s[:n]
	*h = s
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && (s[r].at < s[c].at || s[r].at == s[c].at && s[r].seq < s[c].seq) {
			c = r
		}
		if last.at < s[c].at || last.at == s[c].at && last.seq < s[c].seq {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	return top
}

const benchPending = 1000

// BenchmarkScheduler measures one pop and one push of the scheduler's heap
// with 1,000 events pending, against the bare heap in the same run.
func BenchmarkScheduler(b *testing.B) {
	b.Run("scheduler", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		var h eventHeap
		var seq uint64
		for i := 0; i < benchPending; i++ {
			seq++
			h.push(event{at: time.Duration(r.Int64N(1e9)), seq: seq, kind: evTimer})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e := h.pop()
			seq++
			e.at += time.Duration(r.Int64N(1e6))
			e.seq = seq
			h.push(e)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
	})
	b.Run("bare-heap", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		var h bareHeap
		var seq int64
		for i := 0; i < benchPending; i++ {
			seq++
			h.push(bareItem{at: r.Int64N(1e9), seq: seq})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e := h.pop()
			seq++
			e.at += r.Int64N(1e6)
			e.seq = seq
			h.push(e)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
	})
}

// sink is a node that counts what it receives.
type sink struct{ got int }

func (s *sink) Start(nodes.Env)                     {}
func (s *sink) Receive(nodes.NodeID, nodes.Message) { s.got++ }
func (s *sink) Fire(nodes.Timer)                    {}

type benchMsg struct{}

func (benchMsg) Type() nodes.MessageType { return 3 }
func (benchMsg) Encode(*wire.Encoder)    {}

func init() {
	nodes.Register(3, "bench.msg", func(*wire.Decoder) nodes.Message { return benchMsg{} })
}

// BenchmarkNetwork measures one message through the whole network model:
// Send (latency draw, loss check, trace hash of the send), the scheduler,
// and delivery to the node (partition check, trace hash of the delivery).
func BenchmarkNetwork(b *testing.B) {
	sinks := map[nodes.NodeID]*sink{}
	w, err := New(Config{
		Seed: 1, Nodes: []nodes.NodeID{"a", "b", "c"},
		Factory: func(id nodes.NodeID) nodes.Node { s := &sink{}; sinks[id] = s; return s },
		Network: LinkConfig{Latency: Uniform(time.Millisecond, 10*time.Millisecond), Loss: 0.001},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Run(0); err != nil {
		b.Fatal(err)
	}
	var m nodes.Message = benchMsg{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := int32(i%3), int32((i+1)%3)
		w.send(from, to, w.now, m)
		if err := w.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	got := sinks["a"].got + sinks["b"].got + sinks["c"].got
	if lost := w.net.stats.DroppedLoss; uint64(got)+lost != uint64(b.N) {
		b.Fatalf("%d delivered + %d lost != %d sent", got, lost, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mmsgs/s")
}

// TestNetworkPathDoesNotAllocate guards BenchmarkNetwork's allocation
// budget (at most 1 alloc per message) against regressions: a send,
// routing, scheduling, delivery and its trace records allocate nothing.
func TestNetworkPathDoesNotAllocate(t *testing.T) {
	w, err := New(Config{
		Seed: 1, Nodes: []nodes.NodeID{"a", "b"},
		Factory: func(nodes.NodeID) nodes.Node { return &sink{} },
		Network: LinkConfig{Latency: Uniform(time.Millisecond, 10*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(0); err != nil {
		t.Fatal(err)
	}
	var m nodes.Message = benchMsg{}
	for range 1000 { // grow the heap and the trace ring first
		w.send(0, 1, w.now, m)
		_ = w.Step()
	}
	allocs := testing.AllocsPerRun(1000, func() {
		w.send(0, 1, w.now, m)
		if err := w.Step(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%v allocations per message, budget 1", allocs)
	}
}
