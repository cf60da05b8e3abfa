package lockmgr

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchLocks is how many locks or waiters the memory benchmarks create.
const benchLocks = 100_000

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchTable returns a table with n sessions of client "c<i>", applied
// from index 1; the next free index is returned too.
func benchTable(n int) (*Manager, []SessionID, uint64) {
	m := New(Config{MaxLocksPerSession: benchLocks, MaxQueueLength: benchLocks})
	sessions := make([]SessionID, n)
	index := uint64(0)
	for i := range sessions {
		index++
		res := m.Apply(index, OpenSession{Client: ClientID(fmt.Sprintf("c%d", i)), Seq: 1, TTL: time.Second})
		sessions[i] = res.Session
	}
	return m, sessions, index
}

// resourceName is a realistic short resource name, allocated like a
// decoded command's.
func resourceName(i int) Resource { return Resource(fmt.Sprintf("res-%06d", i)) }

// BenchmarkMemoryPerHeldLock reports the live heap growth per held lock:
// 100k uncontended exclusive locks held by 1000 sessions (the sessions
// exist before the measurement starts). The resource name's bytes count.
func BenchmarkMemoryPerHeldLock(b *testing.B) {
	var perLock float64
	for range b.N {
		m, sessions, index := benchTable(1000)
		before := liveHeap()
		for i := range benchLocks {
			index++
			sid := sessions[i%len(sessions)]
			res := m.Apply(index, Acquire{Client: ClientID(fmt.Sprintf("c%d", i%len(sessions))), Seq: uint64(2 + i/len(sessions)),
				Session: sid, Resource: resourceName(i), Mode: Exclusive})
			if res.Status != StatusGranted {
				b.Fatalf("lock %d: %+v", i, res)
			}
		}
		perLock = float64(liveHeap()-before) / benchLocks
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perLock, "B/lock")
}

// BenchmarkMemoryPerWaiter reports the live heap growth per waiting
// Acquire, with queues of the given depth behind one exclusive holder.
// Each waiter is its own session (a session waits for one lock at a time);
// holders, sessions and resource names exist before the measurement. At
// depth d the k-th waiter has k wait-for edges (the holder and the k-1
// exclusive waiters ahead), so deeper queues cost more per waiter.
func BenchmarkMemoryPerWaiter(b *testing.B) {
	for _, depth := range []int{1, 8} {
		b.Run(fmt.Sprintf("depth-%d", depth), func(b *testing.B) {
			var perWaiter float64
			for range b.N {
				perWaiter = measureWaiters(b, depth)
			}
			b.ReportMetric(perWaiter, "B/waiter")
		})
	}
}

func measureWaiters(b *testing.B, depth int) float64 {
	queues := benchLocks / depth
	m, sessions, index := benchTable(1 + benchLocks)
	names := make([]Resource, queues)
	for i := range names {
		names[i] = resourceName(i)
		index++
		m.Apply(index, Acquire{Client: "c0", Seq: uint64(2 + i), Session: sessions[0], Resource: names[i], Mode: Exclusive})
	}
	before := liveHeap()
	for i := range queues * depth {
		index++
		c := 1 + i
		res := m.Apply(index, Acquire{Client: ClientID(fmt.Sprintf("c%d", c)), Seq: 2, Session: sessions[c],
			Resource: names[i%queues], Mode: Exclusive, Wait: WaitPolicy{Kind: Forever}})
		if res.Status != StatusQueued {
			b.Fatalf("waiter %d: %+v", i, res)
		}
	}
	per := float64(liveHeap()-before) / float64(queues*depth)
	runtime.KeepAlive(m)
	return per
}

// BenchmarkAcquireRelease measures the apply cost of an uncontended
// Acquire followed by its Release.
func BenchmarkAcquireRelease(b *testing.B) {
	m, sessions, index := benchTable(1)
	seq := uint64(1)
	for b.Loop() {
		index++
		seq++
		m.Apply(index, Acquire{Client: "c0", Seq: seq, Session: sessions[0], Resource: "r", Mode: Exclusive})
		index++
		seq++
		m.Apply(index, Release{Client: "c0", Seq: seq, Session: sessions[0], Resource: "r"})
	}
}

// BenchmarkContendedHandoff measures a lock passed along a queue of 8
// waiters: each Release grants the next waiter, which queues again.
func BenchmarkContendedHandoff(b *testing.B) {
	const n = 8
	m, sessions, index := benchTable(n)
	seq := make([]uint64, n)
	acquire := func(i int) {
		index++
		seq[i]++
		m.Apply(index, Acquire{Client: ClientID(fmt.Sprintf("c%d", i)), Seq: 1 + seq[i], Session: sessions[i],
			Resource: "hot", Mode: Exclusive, Wait: WaitPolicy{Kind: Forever}})
	}
	for i := range n {
		acquire(i)
	}
	holder := 0
	for b.Loop() {
		index++
		seq[holder]++
		m.Apply(index, Release{Client: ClientID(fmt.Sprintf("c%d", holder)), Seq: 1 + seq[holder], Session: sessions[holder], Resource: "hot"})
		acquire(holder)
		holder = (holder + 1) % n
	}
}
