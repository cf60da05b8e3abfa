package raft

import "testing"

func TestInflightsRing(t *testing.T) {
	in := newInflights(4, 0)
	for i := uint64(1); i <= 4; i++ {
		if in.full() {
			t.Fatalf("full after %d adds", i-1)
		}
		in.add(i*10, 5)
	}
	if !in.full() || in.count != 4 || in.bytes != 20 {
		t.Fatalf("count %d bytes %d full %v", in.count, in.bytes, in.full())
	}
	mustPanic(t, "add when full", func() { in.add(50, 1) })
	in.freeLE(25) // frees 10 and 20
	if in.count != 2 || in.bytes != 10 || in.full() {
		t.Fatalf("after freeLE(25): count %d bytes %d", in.count, in.bytes)
	}
	// Wrap around the ring.
	in.add(50, 1)
	in.add(60, 1)
	if !in.full() {
		t.Fatalf("not full after wrapping")
	}
	in.freeFirstOne()
	if in.count != 3 || in.buffer[in.start].index != 40 {
		t.Fatalf("after freeFirstOne: count %d head %d", in.count, in.buffer[in.start].index)
	}
	in.freeLE(1000)
	if in.count != 0 || in.bytes != 0 {
		t.Fatalf("after freeing all: count %d bytes %d", in.count, in.bytes)
	}
	mustPanic(t, "non-increasing add", func() { in.add(5, 1); in.add(5, 1) })
}

func TestInflightsBytes(t *testing.T) {
	in := newInflights(100, 100)
	in.add(1, 60)
	if in.full() {
		t.Fatalf("full at 60/100 bytes")
	}
	in.add(2, 60)
	if !in.full() {
		t.Fatalf("not full at 120/100 bytes")
	}
	in.freeLE(1)
	if in.full() || in.bytes != 60 {
		t.Fatalf("after free: bytes %d full %v", in.bytes, in.full())
	}
	in.reset()
	if in.count != 0 || in.bytes != 0 {
		t.Fatalf("reset left count %d bytes %d", in.count, in.bytes)
	}
}

func TestProgressTransitions(t *testing.T) {
	pr := progress{inflights: newInflights(8, 0)}
	pr.resetFor(10)
	if pr.state != StateProbe || pr.next != 11 || pr.isPaused() {
		t.Fatalf("reset: %+v", pr)
	}
	pr.sentEntries(1, 11, 10)
	if !pr.isPaused() {
		t.Fatalf("probe not paused after sending")
	}
	// A stale rejection (not of the probe in flight) is ignored.
	if pr.maybeDecrTo(5, 3) {
		t.Fatalf("stale rejection accepted")
	}
	if !pr.maybeDecrTo(10, 4) || pr.next != 4 || pr.isPaused() {
		t.Fatalf("rejection with hint 4: next %d paused %v", pr.next, pr.isPaused())
	}
	if !pr.maybeUpdate(6) || pr.match != 6 || pr.next != 7 {
		t.Fatalf("update: match %d next %d", pr.match, pr.next)
	}
	pr.becomeReplicate()
	pr.sentEntries(3, 9, 30)
	if pr.next != 10 || pr.inflights.count != 1 {
		t.Fatalf("replicate send: next %d inflight %d", pr.next, pr.inflights.count)
	}
	// A rejection at or below Match is stale in replicate state.
	if pr.maybeDecrTo(6, 1) {
		t.Fatalf("stale replicate rejection accepted")
	}
	if !pr.maybeDecrTo(9, 8) || pr.state != StateProbe || pr.next != 8 {
		t.Fatalf("replicate rejection: state %s next %d", pr.state, pr.next)
	}
	pr.becomeSnapshot(50, 7)
	if !pr.isPaused() || pr.next != 51 || pr.pendingSnapshot != 50 {
		t.Fatalf("snapshot: %+v", pr)
	}
}
