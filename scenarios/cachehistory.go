package scenarios

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
)

// CacheOp is one cache client operation: invoked at Call, answered at
// Return with Reply if Done.
type CacheOp struct {
	Op     caches.Op
	Call   time.Duration
	Return time.Duration
	Reply  caches.Reply
	Done   bool
}

// CacheHistory records what the cache clients of a run invoked and
// learned, stamped with virtual time. It implements caches.Recorder.
type CacheHistory struct {
	Ops       []CacheOp
	pending   map[cacheOpKey]int
	Completed int
	now       func() time.Duration
	// lostKeys are keys a write of which was lost with a crashed M line:
	// their histories are not linearizable by construction and are left
	// out of the check (and counted), as are keys with a put in flight at a
	// crash (AmbiguousPuts).
	lostKeys      map[string]bool
	AmbiguousPuts int
}

type cacheOpKey struct {
	client string
	req    uint64
}

func newCacheHistory() *CacheHistory {
	return &CacheHistory{pending: map[cacheOpKey]int{}, lostKeys: map[string]bool{}}
}

// Invoke implements caches.Recorder.
func (h *CacheHistory) Invoke(op caches.Op) {
	h.pending[cacheOpKey{op.Client, op.Req}] = len(h.Ops)
	h.Ops = append(h.Ops, CacheOp{Op: op, Call: h.now()})
}

// Complete implements caches.Recorder.
func (h *CacheHistory) Complete(op caches.Op, r caches.Reply) {
	k := cacheOpKey{op.Client, op.Req}
	i, ok := h.pending[k]
	if !ok {
		panic(fmt.Sprintf("cache history: completion of %s req %d by %s that was never invoked", op.Kind, op.Req, op.Client))
	}
	delete(h.pending, k)
	h.Completed++
	h.Ops[i].Return, h.Ops[i].Reply, h.Ops[i].Done = h.now(), r, true
}

// crashed notes a crash (of a node, or of a node's cache side): a put in
// flight may have been applied and its completion forgotten, and the
// client's retry may apply it again later, so its key is left out of the
// linearizability check and counted in AmbiguousPuts.
func (h *CacheHistory) crashed() {
	for _, i := range h.pending { //det:ordered marking a set
		if op := h.Ops[i].Op; op.Kind == caches.OpPut {
			h.lostKeys[op.Key] = true
			h.AmbiguousPuts++
		}
	}
}

// OldestPending returns the oldest operation still waiting for its answer.
func (h *CacheHistory) OldestPending() (CacheOp, bool) { return oldestPending(h.Ops, h.pending) }

// LostKeys returns the keys left out of the linearizability check because
// a write of theirs was lost with a crashed node's M line, sorted.
func (h *CacheHistory) LostKeys() []string { return slices.Sorted(maps.Keys(h.lostKeys)) }

// registerModel is a key's sequential specification: a register whose
// value a put sets and a get returns ("" before the first put).
var registerModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{""} },
	Step: func(state, input, _ any) []any {
		s, op := state.(string), input.(CacheOp)
		switch op.Op.Kind {
		case caches.OpPut:
			if !op.Done {
				return []any{s, op.Op.Value} // it may or may not have taken effect
			}
			if op.Reply.Service == nodes.ServiceOK {
				return []any{op.Op.Value}
			}
		case caches.OpGet:
			if !op.Done {
				return []any{s}
			}
			if got := string(op.Reply.Value); op.Reply.Service == nodes.ServiceOK && (got == s || !op.Reply.Found && s == "") {
				return []any{s}
			}
			return nil
		}
		return []any{s}
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, _ any) string {
		op := input.(CacheOp)
		if op.Op.Kind == caches.OpPut {
			return fmt.Sprintf("%s put %s=%.12q", op.Op.Client, op.Op.Key, op.Op.Value)
		}
		if !op.Done {
			return fmt.Sprintf("%s get %s -> ?", op.Op.Client, op.Op.Key)
		}
		return fmt.Sprintf("%s get %s -> %.12q", op.Op.Client, op.Op.Key, op.Reply.Value)
	},
}

// CheckLinearizable checks every key's get/put history against a
// register, with porcupine, leaving out the keys that lost a write in a
// crash. Operations that never completed may have taken effect or not. A
// check that runs out of time says LinUnknown.
func (h *CacheHistory) CheckLinearizable(timeout time.Duration) (Linearizability, porcupine.LinearizationInfo) {
	byKey := map[string][]porcupine.Operation{}
	clients := map[string]int{}
	for _, op := range h.Ops {
		if h.lostKeys[op.Op.Key] {
			continue
		}
		id, ok := clients[op.Op.Client]
		if !ok {
			id = len(clients)
			clients[op.Op.Client] = id
		}
		ret := int64(math.MaxInt64)
		if op.Done {
			ret = int64(op.Return)
		}
		byKey[op.Op.Key] = append(byKey[op.Op.Key], porcupine.Operation{ClientId: id, Input: op, Call: int64(op.Call), Return: ret})
	}
	return checkPartitioned(registerModel, byKey, func(op any) string { return op.(CacheOp).Op.Key }, timeout)
}

// NewCacheHistory returns an empty cache history stamped by now (see
// NewHistory).
func NewCacheHistory(now func() time.Duration) *CacheHistory {
	h := newCacheHistory()
	h.now = now
	return h
}

// Crashed notes a crash in a TCP run: keys with a put in flight are left
// out of the linearizability check, as in the simulator.
func (h *CacheHistory) Crashed() { h.crashed() }

// Lost leaves key out of the linearizability check: a TCP run cannot see
// which M lines a crash lost, so in write-back mode it marks every key
// written before a crash.
func (h *CacheHistory) Lost(key string) { h.lostKeys[key] = true }
