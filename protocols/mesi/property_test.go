package mesi

import (
	"fmt"
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

// TestPropertyCoherence drives random reads and writes from random nodes
// and delivers messages in a random order that keeps each pair FIFO,
// checking SWMR and the data-value invariant after every step, then that
// every operation completed and each key's history is linearizable.
func TestPropertyCoherence(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nNodes := rapid.IntRange(2, 4).Draw(rt, "nodes")
		capacity := rapid.IntRange(1, 3).Draw(rt, "capacity")
		wt := rapid.Bool().Draw(rt, "writeThrough")
		keys := []string{"a", "b", "c", "d"}[:rapid.IntRange(1, 4).Draw(rt, "keys")]
		net := newNetwork(t, nNodes, capacity, wt, homeByHash)
		net.t = rt

		var ops []*issued
		byReq := map[uint64]*issued{}
		clock := int64(0)
		ghost := map[string]Write{}
		versions := map[string]map[uint64]string{} // key → version → value
		written := map[string]bool{}               // values of issued Puts
		settle := func() {
			for _, id := range net.ids {
				for _, c := range net.done[id] {
					op := byReq[c.Req]
					require.NotNil(rt, op, "completion of unknown request %d", c.Req)
					require.False(rt, op.done, "request %d completed twice", c.Req)
					require.Equal(rt, op.node, id)
					require.Equal(rt, op.key, c.Key)
					clock++
					op.done, op.ret, op.out = true, clock, string(c.Value)
					if versions[c.Key] == nil {
						versions[c.Key] = map[uint64]string{0: ""}
					}
					if v, seen := versions[c.Key][c.Version]; seen {
						require.Equal(rt, v, string(c.Value), "version %#x of %q names two values", c.Version, c.Key)
					} else {
						// A write-through Put's value is visible a little
						// before it completes.
						require.True(rt, op.in.put || written[string(c.Value)], "read of %q returned %q@%#x, never written", c.Key, c.Value, c.Version)
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
					rt.Fatalf("after step %d: %v", clock, err)
				}
			}
		}

		steps := rapid.IntRange(1, 80).Draw(rt, "steps")
		next := uint64(0)
		for range steps {
			ps := net.pairs()
			if len(ps) > 0 && rapid.IntRange(0, 2).Draw(rt, "deliver?") > 0 {
				net.deliverPair(ps[rapid.IntRange(0, len(ps)-1).Draw(rt, "pair")])
				settle()
				continue
			}
			next++
			ni := rapid.IntRange(0, nNodes-1).Draw(rt, "node")
			op := &issued{node: net.ids[ni], key: rapid.SampledFrom(keys).Draw(rt, "key"), client: ni}
			op.in.put = rapid.Bool().Draw(rt, "put")
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
		}
		for i := 0; ; i++ {
			require.Less(rt, i, 100000, "network does not quiesce")
			ps := net.pairs()
			if len(ps) == 0 {
				break
			}
			net.deliverPair(ps[rapid.IntRange(0, len(ps)-1).Draw(rt, "pair")])
			settle()
		}
		for i, op := range ops {
			require.True(rt, op.done, "operation %d (%+v) never completed", i, *op)
		}
		for _, id := range net.ids {
			require.True(rt, net.nodes[id].Idle(), "node %s not idle", id)
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
			// Unknown (timed out) passes: the search is exponential in
			// the worst case; Illegal fails.
			if porcupine.CheckOperationsTimeout(registerModel, hist, 2*time.Second) == porcupine.Illegal {
				rt.Fatalf("history of %q not linearizable: %v", k, describe(hist))
			}
		}
	})
}

func describe(h []porcupine.Operation) []string {
	out := make([]string, 0, len(h))
	for _, o := range h {
		out = append(out, fmt.Sprintf("[%d,%d] c%d %s", o.Call, o.Return, o.ClientId, registerModel.DescribeOperation(o.Input, o.Output)))
	}
	slices.Sort(out)
	return out
}
