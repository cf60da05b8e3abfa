package queues

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
)

func TestGroupKeyRoundTrip(t *testing.T) {
	for _, g := range []GroupID{
		{Queue: "orders", Epoch: 0},
		{Queue: "orders", Epoch: 1},
		{Queue: "orders.dlq", Epoch: 7},
		{Queue: "a/b", Epoch: 3},
		{Queue: "a/b/c/", Epoch: 12},
		{Queue: "/", Epoch: 0},
		{Queue: "//", Epoch: 5},
		{Queue: "user@example.com", Epoch: 2},
		{Queue: "x@1/y@2", Epoch: 9},
		{Queue: "@", Epoch: 4},
		{Queue: "0/0", Epoch: 0},
		// The queue ".dlq" has the empty placement key.
		{Queue: PlacementKey(".dlq"), Epoch: 0},
		{Queue: "", Epoch: 3},
		{Queue: "q", Epoch: math.MaxUint64},
		{Queue: strings.Repeat("z", queue.MaxNameBytes), Epoch: MaxEpochs},
	} {
		t.Run(g.String(), func(t *testing.T) {
			k := g.key()
			require.True(t, strings.HasPrefix(k, fmt.Sprint(g.Epoch)+"/"), "key %q", k)
			got, err := parseGroupKey(k)
			require.NoError(t, err)
			require.Equal(t, g, got)
		})
	}
}

func TestParseGroupKeyRejectsBadKeys(t *testing.T) {
	for _, k := range []string{
		"",
		"orders",                    // no separator
		"/orders",                   // no epoch
		"x/orders",                  // epoch not a number
		"-1/orders",                 // negative epoch
		"+1/orders",                 // signed epoch
		" 1/orders",                 // space
		"1.5/orders",                // not an integer
		"0x1/orders",                // not decimal
		"18446744073709551616/q",    // epoch overflows uint64
		"orders@1",                  // the String form, not a key
		"99999999999999999999999/q", // far over
	} {
		t.Run(fmt.Sprintf("%q", k), func(t *testing.T) {
			g, err := parseGroupKey(k)
			require.Error(t, err)
			require.Contains(t, err.Error(), "bad group key")
			require.Equal(t, GroupID{}, g)
		})
	}
}

func TestPlacementKey(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"orders", "orders"},
		{"orders.dlq", "orders"},
		{"orders.dlq.dlq", "orders.dlq"}, // only one suffix
		{"orders.dlq2", "orders.dlq2"},   // not a suffix
		{"orders.dlq.x", "orders.dlq.x"}, // not trailing
		{"ordersdlq", "ordersdlq"},       // no dot
		{"orders.DLQ", "orders.DLQ"},     // case matters
		{"dlq", "dlq"},
		{"a/b.dlq", "a/b"},
		{"q@1.dlq", "q@1"},
		{".dlq", ""}, // a valid queue name with the empty key
	} {
		require.Equal(t, c.want, PlacementKey(c.name), "PlacementKey(%q)", c.name)
	}
	// A queue and its dead-letter queue share a group.
	p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, []nodes.NodeID{"n1", "n2", "n3", "n4", "n5"})
	require.NoError(t, err)
	for i := range 50 {
		name := fmt.Sprintf("q-%d", i)
		g1, pref1 := p.current(PlacementKey(name))
		g2, pref2 := p.current(PlacementKey(name + queue.DLQSuffix))
		require.Equal(t, g1, g2)
		require.Equal(t, pref1, pref2)
	}
}

func TestValidateQueueName(t *testing.T) {
	require.Equal(t, 255, queue.MaxNameBytes)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"", false},
		{"q", true},
		{"a/b@c.dlq", true},
		{strings.Repeat("x", 254), true},
		{strings.Repeat("x", 255), true},
		{strings.Repeat("x", 256), false},
		{strings.Repeat("é", 128), false}, // 256 bytes, 128 runes
		{strings.Repeat("x", 10_000), false},
	} {
		t.Run(fmt.Sprintf("%d bytes", len(c.name)), func(t *testing.T) {
			err := ValidateQueueName("Request.Queue", c.name)
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, queue.ErrInvalidQueue)
			require.Contains(t, err.Error(), "Request.Queue")
			require.Contains(t, err.Error(), fmt.Sprintf("(%d bytes)", len(c.name)))
			require.Less(t, len(err.Error()), 200, "a long name is shown truncated")
		})
	}
}

var (
	ringA = []nodes.NodeID{"a", "b", "c"}
	ringB = []nodes.NodeID{"a", "b", "c", "d"}
	ringC = []nodes.NodeID{"a", "b", "c", "d", "e"}
)

func threeEpochs() []Membership {
	return []Membership{{Epoch: 0, Members: ringA}, {Epoch: 1, Members: ringB}, {Epoch: 2, Members: ringC}}
}

func hashIDs(ids []nodes.NodeID) []hashring.NodeID {
	out := make([]hashring.NodeID, len(ids))
	for i, id := range ids {
		out[i] = hashring.NodeID(id)
	}
	return out
}

func nodeIDs(ids []hashring.NodeID) []nodes.NodeID {
	out := make([]nodes.NodeID, len(ids))
	for i, id := range ids {
		out[i] = nodes.NodeID(id)
	}
	return out
}

// expectedPlacement computes, independently of placement, the group and
// preference list of key over history h with R replicas.
type expectedPlacement struct {
	rings []*hashring.Ring
	r     int
}

func newExpected(t *testing.T, h []Membership, r int) *expectedPlacement {
	t.Helper()
	e := &expectedPlacement{r: r}
	for _, m := range h {
		ring, err := hashring.New(hashring.DefaultVNodes, hashring.MD5, hashIDs(m.Members)...)
		require.NoError(t, err)
		e.rings = append(e.rings, ring)
	}
	return e
}

func (e *expectedPlacement) set(key string, epoch int) []nodes.NodeID {
	s := nodeIDs(e.rings[epoch].Preference(key, e.r))
	slices.Sort(s)
	return s
}

// group returns the earliest epoch from which key's replica set stays
// the same up to the last epoch, and the last epoch's preference list.
func (e *expectedPlacement) group(key string) (uint64, []nodes.NodeID) {
	last := len(e.rings) - 1
	want := e.set(key, last)
	first := last
	for ep := last; ep >= 0; ep-- {
		if !slices.Equal(e.set(key, ep), want) {
			break
		}
		first = ep
	}
	return uint64(first), nodeIDs(e.rings[last].Preference(key, e.r))
}

func TestPlacementCurrent(t *testing.T) {
	t.Run("joins", func(t *testing.T) { checkPlacementCurrent(t, threeEpochs(), false) })
	// d leaves and joins again: a key whose set at epoch 2 is epoch 0's
	// again, but differed at epoch 1, is at group epoch 2, not 0.
	t.Run("leave and rejoin", func(t *testing.T) {
		checkPlacementCurrent(t, []Membership{{0, ringB}, {1, ringA}, {2, ringB}}, true)
	})
}

func checkPlacementCurrent(t *testing.T, h []Membership, wantGap bool) {
	p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, h[0].Members)
	require.NoError(t, err)
	require.NoError(t, p.extend(h))
	require.Equal(t, uint64(2), p.epoch())
	require.Equal(t, h[2], p.latest())

	exp := newExpected(t, h, 3)
	byEpoch := map[uint64]int{}
	gap := 0 // keys whose set at epoch 0 equals the last one's but not epoch 1's
	for i := range 3000 {
		key := fmt.Sprintf("queue-%d", i)
		wantEpoch, wantPref := exp.group(key)
		g, pref := p.current(key)
		require.Equal(t, GroupID{Queue: key, Epoch: wantEpoch}, g, "key %q", key)
		require.Equal(t, wantPref, pref, "key %q: preference at the last epoch, owner first", key)
		require.Len(t, pref, 3)
		// Cached answer is the same.
		g2, pref2 := p.current(key)
		require.Equal(t, g, g2)
		require.Equal(t, pref, pref2)

		byEpoch[g.Epoch]++
		if g.Epoch == 2 && slices.Equal(exp.set(key, 0), exp.set(key, 2)) {
			gap++
		}

		peers, ok := p.peers(g)
		require.True(t, ok)
		require.Equal(t, exp.set(key, int(g.Epoch)), peers)
		require.Equal(t, sortedSet(pref), peers, "the group's members are the current replica set")
		for e := range uint64(3) {
			peers, ok := p.peers(GroupID{Queue: key, Epoch: e})
			require.True(t, ok)
			require.Equal(t, exp.set(key, int(e)), peers)
		}
		_, ok = p.peers(GroupID{Queue: key, Epoch: 3})
		require.False(t, ok, "epoch 3 is not known")
		_, ok = p.peers(GroupID{Queue: key, Epoch: math.MaxUint64})
		require.False(t, ok)

		require.True(t, p.isCurrent(g))
		for e := range uint64(4) {
			require.Equal(t, e == g.Epoch, p.isCurrent(GroupID{Queue: key, Epoch: e}), "key %q epoch %d", key, e)
		}
	}
	// The keys must exercise every case.
	require.Positive(t, byEpoch[0], "%v", byEpoch)
	require.Positive(t, byEpoch[2], "%v", byEpoch)
	if wantGap {
		// Every key that moved at epoch 1 came back at epoch 2.
		require.Zero(t, byEpoch[1], "%v", byEpoch)
		require.Positive(t, gap)
		require.Equal(t, gap, byEpoch[2])
	} else {
		require.Positive(t, byEpoch[1], "%v", byEpoch)
	}
	t.Logf("groups by epoch %v; %d keys whose set returned to epoch 0's after a change", byEpoch, gap)
}

func TestPlacementCurrentAfterExtend(t *testing.T) {
	// The cache must not outlive a ring change.
	h := threeEpochs()
	p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, ringA)
	require.NoError(t, err)
	require.NoError(t, p.extend(h[:2]))
	exp2 := newExpected(t, h[:2], 3)
	exp3 := newExpected(t, h, 3)
	moved := 0
	for i := range 500 {
		key := fmt.Sprintf("k%d", i)
		e, pref := exp2.group(key)
		g, got := p.current(key)
		require.Equal(t, GroupID{Queue: key, Epoch: e}, g)
		require.Equal(t, pref, got)
	}
	require.NoError(t, p.extend(h))
	for i := range 500 {
		key := fmt.Sprintf("k%d", i)
		e, pref := exp3.group(key)
		g, got := p.current(key)
		require.Equal(t, GroupID{Queue: key, Epoch: e}, g)
		require.Equal(t, pref, got)
		if e == 2 {
			moved++
		}
	}
	require.Positive(t, moved)
}

func TestPlacementReplicasCappedByRing(t *testing.T) {
	p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 5, []nodes.NodeID{"n1", "n2"})
	require.NoError(t, err)
	g, pref := p.current("q")
	require.Equal(t, GroupID{Queue: "q", Epoch: 0}, g)
	require.ElementsMatch(t, []nodes.NodeID{"n1", "n2"}, pref)
}

func TestPlacementExtend(t *testing.T) {
	h := threeEpochs()
	fresh := func(t *testing.T) *placement {
		p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, ringA)
		require.NoError(t, err)
		require.NoError(t, p.extend(h[:2]))
		return p
	}
	clone := func(h []Membership) []Membership {
		out := make([]Membership, len(h))
		for i, m := range h {
			out[i] = Membership{Epoch: m.Epoch, Members: slices.Clone(m.Members)}
		}
		return out
	}
	tooMany := make([]Membership, MaxEpochs+1)
	for i := range tooMany {
		tooMany[i] = Membership{Epoch: uint64(i), Members: ringA}
	}
	manyMembers := make([]nodes.NodeID, MaxMembers+1)
	for i := range manyMembers {
		manyMembers[i] = nodes.NodeID(fmt.Sprintf("n%03d", i))
	}

	refused := []struct {
		name string
		h    []Membership
		msg  string
	}{
		{"conflicting epoch 1", []Membership{{0, ringA}, {1, []nodes.NodeID{"a", "b", "c", "x"}}, {2, ringC}}, "conflicts"},
		{"conflicting epoch 0", []Membership{{0, []nodes.NodeID{"a", "b"}}}, "conflicts"},
		{"empty history", nil, "0 epochs"},
		{"epochs out of order", []Membership{{0, ringA}, {2, ringB}, {1, ringC}}, "history[1].Epoch = 2"},
		{"epoch not starting at 0", []Membership{{1, ringA}}, "history[0].Epoch = 1"},
		{"repeated epoch", []Membership{{0, ringA}, {1, ringB}, {1, ringC}}, "history[2].Epoch = 1"},
		{"unsorted members", []Membership{{0, ringA}, {1, ringB}, {2, []nodes.NodeID{"a", "c", "b", "d", "e"}}}, "not sorted"},
		{"duplicate members", []Membership{{0, ringA}, {1, ringB}, {2, []nodes.NodeID{"a", "b", "c", "d", "d"}}}, "not sorted and distinct"},
		{"empty members", []Membership{{0, ringA}, {1, ringB}, {2, nil}}, "0 members"},
		{"too many members", []Membership{{0, ringA}, {1, ringB}, {2, manyMembers}}, "65 members"},
		{"invalid member", []Membership{{0, ringA}, {1, ringB}, {2, []nodes.NodeID{"a", "b/c"}}}, "member 1"},
		{"too many epochs", tooMany, fmt.Sprintf("%d epochs", MaxEpochs+1)},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			p := fresh(t)
			before := clone(p.history)
			gBefore, prefBefore := p.current("orders")
			err := p.extend(c.h)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.msg)
			require.Equal(t, before, p.history, "a refused history changes nothing")
			require.Len(t, p.rings, len(before))
			require.Equal(t, uint64(1), p.epoch())
			g, pref := p.current("orders")
			require.Equal(t, gBefore, g)
			require.Equal(t, prefBefore, pref)
		})
	}

	t.Run("longer consistent history", func(t *testing.T) {
		p := fresh(t)
		in := clone(h)
		require.NoError(t, p.extend(in))
		require.Equal(t, uint64(2), p.epoch())
		require.Equal(t, h, p.history)
		require.Len(t, p.rings, 3)
		// The history is copied: the caller may reuse its slices.
		in[2].Members[0] = "zz"
		require.Equal(t, ringC, p.latest().Members)
	})
	t.Run("shorter consistent history", func(t *testing.T) {
		p := fresh(t)
		require.NoError(t, p.extend(h))
		g, pref := p.current("orders")
		require.NoError(t, p.extend(h[:1]))
		require.NoError(t, p.extend(h[:2]))
		require.Equal(t, uint64(2), p.epoch())
		require.Equal(t, h, p.history)
		require.Len(t, p.rings, 3)
		g2, pref2 := p.current("orders")
		require.Equal(t, g, g2)
		require.Equal(t, pref, pref2)
	})
	t.Run("same history", func(t *testing.T) {
		p := fresh(t)
		require.NoError(t, p.extend(h[:2]))
		require.Equal(t, h[:2], p.history)
	})
	t.Run("shorter conflicting history", func(t *testing.T) {
		p := fresh(t)
		err := p.extend([]Membership{{0, []nodes.NodeID{"a", "b", "d"}}})
		require.Error(t, err)
		require.Equal(t, uint64(1), p.epoch())
	})
}

func TestNewPlacementRejectsBadInitialRing(t *testing.T) {
	for _, ids := range [][]nodes.NodeID{nil, {"b", "a"}, {"a", "a"}, {""}} {
		_, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, ids)
		require.Error(t, err, "%v", ids)
	}
	_, err := newPlacement(0, hashring.MD5, 3, ringA)
	require.Error(t, err)
	require.False(t, errors.Is(err, queue.ErrInvalidQueue))
}
