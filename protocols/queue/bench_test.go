package queue

import (
	"runtime"
	"testing"
	"time"
)

const benchMessages = 100_000

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerMessage reports the bytes a ready message costs beyond
// its 16-byte payload (target below 1 KB), and what a delivery in flight
// adds (target below 500 B).
func BenchmarkMemoryPerMessage(b *testing.B) {
	payload := make([]byte, 16)
	for range b.N {
		m := New(Config{})
		idx := uint64(0)
		before := heapInUse()
		for i := range benchMessages {
			idx++
			m.Apply(idx, Enqueue{Client: "p", Seq: uint64(i + 1), Queue: "q", Payload: payload})
		}
		queued := heapInUse()
		for i := range benchMessages {
			idx++
			m.Apply(idx, Dequeue{Client: "c", Seq: uint64(i + 1), Queue: "q", Visibility: time.Minute})
		}
		inflight := heapInUse()
		b.ReportMetric(float64(queued-before)/benchMessages-float64(len(payload)), "B/msg")
		b.ReportMetric(float64(int64(inflight)-int64(queued))/benchMessages, "B/inflight")
		runtime.KeepAlive(m)
	}
}

// BenchmarkApply measures an enqueue, dequeue, ack cycle.
func BenchmarkApply(b *testing.B) {
	b.ReportAllocs()
	m := New(Config{})
	payload := make([]byte, 64)
	idx := uint64(0)
	for i := range b.N {
		seq := uint64(i + 1)
		idx++
		m.Apply(idx, Enqueue{Client: "p", Seq: seq, Queue: "q", Payload: payload})
		idx++
		r := m.Apply(idx, Dequeue{Client: "c", Seq: 2 * seq, Queue: "q", Visibility: time.Minute})
		idx++
		m.Apply(idx, Ack{Client: "c", Seq: 2*seq + 1, Receipt: r.Receipt})
	}
}
