package mesi

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// regInput is one register operation for porcupine.
type regInput struct {
	put   bool
	value string
}

// registerModel is a single register whose initial value is "".
var registerModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.put {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.put {
			return fmt.Sprintf("put(%q)", in.value)
		}
		return fmt.Sprintf("get() -> %q", output)
	},
}

// issued is a client operation in progress or done.
type issued struct {
	node   NodeID
	key    string
	in     regInput
	call   int64
	ret    int64
	out    string
	done   bool
	client int
}

// chooser makes the property's random choices: rapid's draws, or a
// seeded PCG for a plain search over seeds.
type chooser interface {
	// intRange returns a number in [lo, hi].
	intRange(lo, hi int, label string) int
}

// rapidChooser draws with rapid, which shrinks failing cases.
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) intRange(lo, hi int, label string) int {
	return rapid.IntRange(lo, hi).Draw(c.t, label)
}

// pcgChooser draws from a PCG: a seed always makes the same schedule.
type pcgChooser struct{ r *rand.Rand }

func (c pcgChooser) intRange(lo, hi int, _ string) int { return lo + c.r.IntN(hi-lo+1) }

// TestPropertyCoherence drives random reads and writes from random nodes
// and delivers messages in a random order that keeps each pair FIFO,
// checking SWMR and the data-value invariant after every step, then that
// every operation completed and each key's history is linearizable. The
// directory protocol passes with operations concurrent; both protocols
// pass with one operation at a time (the network drained in between).
func TestPropertyCoherence(t *testing.T) {
	for _, tc := range []struct {
		proto      string
		sequential bool
	}{
		{"directory", false},
		{"directory", true},
		{"broadcast", true},
	} {
		name := tc.proto + "/concurrent"
		if tc.sequential {
			name = tc.proto + "/sequential"
		}
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				coherence(rt, rapidChooser{rt}, tc.proto, tc.sequential)
			})
		})
	}
}

// coherence is the property: one random run of the named protocol,
// failing t on the first violation.
func coherence(t tb, c chooser, proto string, sequential bool) {
	nNodes := c.intRange(2, 4, "nodes")
	capacity := c.intRange(1, 3, "capacity")
	wt := c.intRange(0, 1, "writeThrough") == 1
	keys := []string{"a", "b", "c", "d"}[:c.intRange(1, 4, "keys")]
	net := newProtocolNetwork(t, proto, nNodes, capacity, wt)

	var ops []*issued
	byReq := map[uint64]*issued{}
	clock := int64(0)
	ghost := map[string]Write{}
	versions := map[string]map[uint64]string{} // key → version → value
	written := map[string]bool{}               // values of issued Puts
	settle := func() {
		for _, id := range net.caches {
			for _, c := range net.done[id] {
				op := byReq[c.Req]
				require.NotNil(t, op, "completion of unknown request %d", c.Req)
				require.False(t, op.done, "request %d completed twice", c.Req)
				require.Equal(t, op.node, id)
				require.Equal(t, op.key, c.Key)
				clock++
				op.done, op.ret, op.out = true, clock, string(c.Value)
				if versions[c.Key] == nil {
					versions[c.Key] = map[uint64]string{0: ""}
				}
				if v, seen := versions[c.Key][c.Version]; seen {
					require.Equal(t, v, string(c.Value), "version %#x of %q names two values", c.Version, c.Key)
				} else {
					// A write-through Put's value is visible a little
					// before it completes.
					require.True(t, op.in.put || written[string(c.Value)], "read of %q returned %q@%#x, never written", c.Key, c.Value, c.Version)
					versions[c.Key][c.Version] = string(c.Value)
				}
				if op.in.put && c.Version > ghost[c.Key].Version {
					ghost[c.Key] = Write{c.Value, c.Version}
				}
			}
			net.done[id] = nil
		}
		for _, k := range keys {
			if err := net.check(k, ghost[k]); err != nil {
				t.Fatalf("after step %d: %v", clock, err)
			}
		}
	}
	deliverAll := func() {
		for i := 0; ; i++ {
			require.Less(t, i, 100000, "network does not quiesce")
			ps := net.pairs()
			if len(ps) == 0 {
				return
			}
			net.deliverPair(ps[c.intRange(0, len(ps)-1, "pair")])
			settle()
		}
	}

	steps := c.intRange(1, 80, "steps")
	next := uint64(0)
	for range steps {
		ps := net.pairs()
		if len(ps) > 0 && c.intRange(0, 2, "deliver?") > 0 {
			net.deliverPair(ps[c.intRange(0, len(ps)-1, "pair")])
			settle()
			continue
		}
		next++
		ni := c.intRange(0, nNodes-1, "node")
		op := &issued{node: net.caches[ni], key: keys[c.intRange(0, len(keys)-1, "key")], client: ni}
		op.in.put = c.intRange(0, 1, "put") == 1
		clock++
		op.call = clock
		ops = append(ops, op)
		byReq[next] = op
		if op.in.put {
			op.in.value = fmt.Sprintf("v%d", next)
			written[op.in.value] = true
			net.put(op.node, next, op.key, op.in.value)
		} else {
			net.get(op.node, next, op.key)
		}
		settle()
		if sequential {
			deliverAll()
		}
	}
	deliverAll()
	for i, op := range ops {
		require.True(t, op.done, "operation %d (%+v) never completed", i, *op)
	}
	for _, id := range net.ids {
		require.True(t, net.nodes[id].Idle(), "node %s not idle", id)
	}
	for _, k := range keys {
		var hist []porcupine.Operation
		for _, op := range ops {
			if op.key != k {
				continue
			}
			var out any = op.out
			hist = append(hist, porcupine.Operation{ClientId: op.client, Input: op.in, Call: op.call, Output: out, Return: op.ret})
		}
		// Unknown (timed out) passes: the search is exponential in the
		// worst case; Illegal fails.
		if porcupine.CheckOperationsTimeout(registerModel, hist, 2*time.Second) == porcupine.Illegal {
			t.Fatalf("history of %q not linearizable: %v", k, describe(hist))
		}
	}
}

func describe(h []porcupine.Operation) []string {
	out := make([]string, 0, len(h))
	for _, o := range h {
		out = append(out, fmt.Sprintf("[%d,%d] c%d %s", o.Call, o.Return, o.ClientId, registerModel.DescribeOperation(o.Input, o.Output)))
	}
	slices.Sort(out)
	return out
}
