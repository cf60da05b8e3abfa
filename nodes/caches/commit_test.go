package caches

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/stretchr/testify/require"
)

// journal records, in order, what a node did that the outside can see:
// its syncs and its sends.
type journal struct{ ops []string }

// syncDisk is a crashDisk whose syncs are journaled.
type syncDisk struct {
	*crashDisk
	j *journal
}

func (d syncDisk) Open(name string) (nodes.File, error) {
	f, err := d.crashDisk.Open(name)
	if err != nil {
		return nil, err
	}
	return syncFile{f, d.j}, nil
}

type syncFile struct {
	nodes.File
	j *journal
}

func (f syncFile) Sync() error {
	f.j.ops = append(f.j.ops, "sync "+f.Name())
	return f.File.Sync()
}

// testEnv is a nodes.Env whose timers the test fires by hand.
type testEnv struct {
	id     nodes.NodeID
	now    time.Time
	disk   nodes.Disk
	j      *journal
	timers []nodes.Timer
}

func (e *testEnv) ID() nodes.NodeID          { return e.id }
func (e *testEnv) Peers() []nodes.NodeID     { return []nodes.NodeID{e.id} }
func (e *testEnv) Now() time.Time            { return e.now }
func (e *testEnv) CancelTimer(nodes.TimerID) {}
func (e *testEnv) Rand() *rand.Rand          { return rand.New(rand.NewPCG(1, 2)) }
func (e *testEnv) Disk() nodes.Disk          { return e.disk }
func (e *testEnv) Logf(string, ...any)       {}
func (e *testEnv) Send(to nodes.NodeID, m nodes.Message) {
	if r, ok := m.(*Reply); ok {
		e.j.ops = append(e.j.ops, fmt.Sprintf("reply %s/%d", r.Client, r.Req))
	}
}
func (e *testEnv) SetTimer(_ time.Duration, t nodes.Timer) nodes.TimerID {
	e.timers = append(e.timers, t)
	return nodes.TimerID(len(e.timers))
}

// fire fires the pending timers of kind, in order.
func (e *testEnv) fire(n nodes.Node, kind string) {
	ts := slices.DeleteFunc(slices.Clone(e.timers), func(t nodes.Timer) bool { return t.Kind != kind })
	e.timers = slices.DeleteFunc(e.timers, func(t nodes.Timer) bool { return t.Kind == kind })
	for _, t := range ts {
		n.Fire(t)
	}
}

// soloServer starts a one-node cluster (home of every key) on a journaled
// disk, and forgets what the boot did.
func soloServer(t *testing.T, cfg Config) (nodes.Node, *testEnv) {
	cfg.Nodes = []nodes.NodeID{"n1"}
	f, err := NewServer(cfg)
	require.NoError(t, err)
	j := &journal{}
	env := &testEnv{id: "n1", now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), disk: syncDisk{newCrashDisk(1), j}, j: j}
	n := f("n1")
	n.Start(env)
	j.ops = nil
	return n, env
}

// TestGroupCommitHoldsReplies: the replies to the events handled before
// the flush timer fires, a hit's included, are sent after the one sync of
// what they changed; a hit with nothing pending is answered at once,
// without a sync.
func TestGroupCommitHoldsReplies(t *testing.T) {
	n, env := soloServer(t, Config{})
	n.Receive("c1", &Request{Client: "c1", Req: 1, Op: OpPut, Key: "k", Value: []byte("v")})
	n.Receive("c2", &Request{Client: "c2", Req: 1, Op: OpGet, Key: "k"}) // a hit on the M line
	n.Receive("c3", &Request{Client: "c3", Req: 1, Op: OpPut, Key: "j", Value: []byte("w")})
	n.Receive("c1", &Request{Client: "c1", Req: 1, Op: OpPut, Key: "k", Value: []byte("v")}) // a retry
	require.Empty(t, env.j.ops, "nothing synced or sent before the flush")
	env.fire(n, timerFlush)
	require.Equal(t, []string{"sync home-0000000000000001.log", "reply c1/1", "reply c2/1", "reply c3/1", "reply c1/1"}, env.j.ops)
	require.Equal(t, uint64(1), n.(*Server).Stats().Persists)
	require.Equal(t, uint64(2), n.(*Server).Stats().LogRecords)

	env.j.ops = nil
	n.Receive("c2", &Request{Client: "c2", Req: 2, Op: OpGet, Key: "k"})
	require.Equal(t, []string{"reply c2/2"}, env.j.ops, "a hit with nothing to persist is answered at once")
	require.NotContains(t, env.timers, nodes.Timer{Kind: timerFlush}, "and arms no flush")
}

// TestDisableGroupCommit: each event syncs what it changed before its
// reply.
func TestDisableGroupCommit(t *testing.T) {
	n, env := soloServer(t, Config{DisableGroupCommit: true})
	n.Receive("c1", &Request{Client: "c1", Req: 1, Op: OpPut, Key: "k", Value: []byte("v")})
	n.Receive("c3", &Request{Client: "c3", Req: 1, Op: OpPut, Key: "j", Value: []byte("w")})
	require.Equal(t, []string{"sync home-0000000000000001.log", "reply c1/1", "sync home-0000000000000001.log", "reply c3/1"}, env.j.ops)
	for _, tm := range env.timers {
		require.NotEqual(t, timerFlush, tm.Kind)
	}
}
