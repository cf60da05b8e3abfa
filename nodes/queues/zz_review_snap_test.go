package queues

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A producer with no consumer: once a group's state exceeds
// raft.MaxSnapshotBytes (64 MiB), the periodic snapshot panics the node,
// and replay of the log reproduces the panic on restart.
func TestReviewSnapshotTooLargePanics(t *testing.T) {
	servers := serverIDs(3)
	d := newDriver("n1")
	payload := strings.Repeat("x", 1<<20-64)
	for i := range 140 {
		d.steps = append(d.steps, step{name: fmt.Sprintf("enq %d", i), build: enqueueReq("p", uint64(i+1), "big", payload)})
	}
	w := newQueueWorld(t, 1, servers, Config{SnapshotEvery: 68}, d)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("node panicked on client input: %v", r)
		}
	}()
	runDriver(t, w, d, 60*time.Second)
}

func TestReviewSnapshotTooLargeInfo(t *testing.T) {
	servers := serverIDs(3)
	d := newDriver("n1")
	payload := strings.Repeat("x", 1<<20-64)
	for i := range 140 {
		d.steps = append(d.steps, step{name: fmt.Sprintf("enq %d", i), build: enqueueReq("p", uint64(i+1), "big", payload)})
	}
	w := newQueueWorld(t, 1, servers, Config{SnapshotEvery: 68}, d)
	runDriver(t, w, d, 60*time.Second)
	for _, id := range servers {
		s := server(t, w, id)
		for _, g := range s.Groups() {
			r := s.Group(g)
			t.Logf("%s %s applied %d snap %d state %d bytes; up=%v", id, g, r.Applied(), r.Raft().Snapshot().Index, len(r.Manager().Snapshot()), w.Up(id))
		}
	}
	t.Logf("violation: %v", w.Violation())
}
