package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
)

// HistOp is one client operation of a history: invoked at Call, answered
// at Return with Result if Done.
type HistOp struct {
	Op     locks.Op
	Call   time.Duration
	Return time.Duration
	Result lockmgr.Result
	Done   bool
}

// History records what the clients of a run invoked and learned, stamped
// with virtual time. It implements locks.Recorder.
type History struct {
	Ops     []HistOp
	pending map[opKey]int
	// Completed counts the operations that got an answer.
	Completed int
	now       func() time.Duration
}

type opKey struct {
	client lockmgr.ClientID
	seq    uint64
}

// Invoke implements locks.Recorder.
func (h *History) Invoke(op locks.Op) {
	if h.pending == nil {
		h.pending = map[opKey]int{}
	}
	h.pending[opKey{op.Client, op.Seq}] = len(h.Ops)
	h.Ops = append(h.Ops, HistOp{Op: op, Call: h.now()})
}

// Complete implements locks.Recorder.
func (h *History) Complete(op locks.Op, res lockmgr.Result) {
	k := opKey{op.Client, op.Seq}
	i, ok := h.pending[k]
	if !ok {
		panic(fmt.Sprintf("history: completion of %s seq %d by %s that was never invoked", op.Kind, op.Seq, op.Client))
	}
	delete(h.pending, k)
	h.Completed++
	h.Ops[i].Return, h.Ops[i].Result, h.Ops[i].Done = h.now(), res, true
}

// OldestPending returns the earliest operation still waiting for an answer.
func (h *History) OldestPending() (HistOp, bool) { return oldestPending(h.Ops, h.pending) }

// oldestPending returns the operation of ops with the smallest index among
// the pending ones (a map from operation key to index in ops).
func oldestPending[Op any, K comparable](ops []Op, pending map[K]int) (Op, bool) {
	best := -1
	for _, i := range pending { //det:ordered the minimum index does not depend on order
		if best < 0 || i < best {
			best = i
		}
	}
	if best < 0 {
		var zero Op
		return zero, false
	}
	return ops[best], true
}

// Linearizability is the verdict of a linearizability check.
type Linearizability string

// Verdicts. Unknown means the checker ran out of time: it is reported, never
// counted as a pass.
const (
	Linearizable    Linearizability = "ok"
	NotLinearizable Linearizability = "illegal"
	LinUnknown      Linearizability = "unknown"
)

// lockState is the model's state of one resource: its holders, sorted by
// session, and the last fencing token granted.
type lockState struct {
	holders []sessionHolder
	last    lockmgr.Token
}

func (s lockState) holds(sess lockmgr.SessionID) int {
	for i, h := range s.holders {
		if h.session == sess {
			return i
		}
	}
	return -1
}

func (s lockState) conflicts(mode lockmgr.Mode) bool {
	for _, h := range s.holders {
		if mode == lockmgr.Exclusive || h.mode == lockmgr.Exclusive {
			return true
		}
	}
	return false
}

func (s lockState) with(h sessionHolder) lockState {
	hs := append(slices.Clone(s.holders), h)
	slices.SortFunc(hs, func(a, b sessionHolder) int { return int(a.session) - int(b.session) })
	last := s.last
	if h.token > last {
		last = h.token
	}
	return lockState{holders: hs, last: last}
}

func (s lockState) without(i int) lockState {
	return lockState{holders: slices.Delete(slices.Clone(s.holders), i, i+1), last: s.last}
}

// grantOK reports whether a grant of mode with token is legal in s: the
// lock is compatible, and the token is fresh (shared grants made by one
// entry share its token).
func (s lockState) grantOK(mode lockmgr.Mode, token lockmgr.Token) bool {
	if s.conflicts(mode) {
		return false
	}
	if token > s.last {
		return true
	}
	return mode == lockmgr.Shared && token == s.last && len(s.holders) > 0
}

// step is the sequential specification of one resource's lock.
func step(s lockState, op HistOp) []lockState {
	switch op.Op.Kind {
	case locks.OpAcquire:
		if !op.Done {
			out := []lockState{s}
			if !s.conflicts(op.Op.Mode) {
				out = append(out, s.with(sessionHolder{session: op.Op.Session, mode: op.Op.Mode, token: s.last + 1}))
			}
			return out
		}
		switch op.Result.Status {
		case lockmgr.StatusGranted:
			if s.holds(op.Op.Session) >= 0 || !s.grantOK(op.Op.Mode, op.Result.Token) {
				return nil
			}
			return []lockState{s.with(sessionHolder{session: op.Op.Session, mode: op.Op.Mode, token: op.Result.Token})}
		case lockmgr.StatusRejected:
			if errors.Is(op.Result.Err, lockmgr.ErrWouldBlock) && !s.conflicts(op.Op.Mode) {
				return nil
			}
			return []lockState{s}
		}
	case locks.OpRelease:
		i := s.holds(op.Op.Session)
		if !op.Done {
			if i < 0 {
				return []lockState{s}
			}
			return []lockState{s, s.without(i)}
		}
		if op.Result.Status == lockmgr.StatusRejected {
			if errors.Is(op.Result.Err, lockmgr.ErrNotHolder) && i >= 0 {
				return nil
			}
			return []lockState{s}
		}
		if i < 0 {
			return nil
		}
		return []lockState{s.without(i)}
	}
	return []lockState{s}
}

var lockModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{lockState{}} },
	Step: func(state, input, output any) []any {
		op := input.(HistOp)
		var out []any
		for _, s := range step(state.(lockState), op) {
			out = append(out, s)
		}
		return out
	},
	Equal: func(a, b any) bool {
		x, y := a.(lockState), b.(lockState)
		return x.last == y.last && slices.Equal(x.holders, y.holders)
	},
	DescribeOperation: func(input, output any) string {
		op := input.(HistOp)
		if !op.Done {
			return fmt.Sprintf("%s %s %s s%d -> ?", op.Op.Client, op.Op.Kind, op.Op.Resource, op.Op.Session)
		}
		return fmt.Sprintf("%s %s %s s%d -> %s token=%d", op.Op.Client, op.Op.Kind, op.Op.Resource, op.Op.Session, op.Result.Status, op.Result.Token)
	},
}

// CheckLinearizable checks the acquire and release operations of the
// history against a lock's sequential specification, one resource at a
// time, with porcupine. Operations that never completed may have taken
// effect or not. A check that runs out of time says LinUnknown.
func (h *History) CheckLinearizable(timeout time.Duration) (Linearizability, porcupine.LinearizationInfo) {
	byResource := map[lockmgr.Resource][]porcupine.Operation{}
	clients := map[lockmgr.ClientID]int{}
	for _, op := range h.Ops {
		if op.Op.Kind != locks.OpAcquire && op.Op.Kind != locks.OpRelease {
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
		byResource[op.Op.Resource] = append(byResource[op.Op.Resource], porcupine.Operation{
			ClientId: id, Input: op, Call: int64(op.Call), Output: nil, Return: ret,
		})
	}
	return checkPartitioned(lockModel, byResource, func(op any) lockmgr.Resource { return op.(HistOp).Op.Resource }, timeout)
}

// checkPartitioned checks a history partitioned by key against model with
// porcupine, one key at a time (porcupine's Partition), in key order. A
// check that runs out of time says LinUnknown.
func checkPartitioned[K cmp.Ordered](model porcupine.NondeterministicModel, byKey map[K][]porcupine.Operation, keyOf func(input any) K, timeout time.Duration) (Linearizability, porcupine.LinearizationInfo) {
	var all []porcupine.Operation
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		all = append(all, byKey[k]...)
	}
	model.Partition = func(history []porcupine.Operation) [][]porcupine.Operation {
		parts := map[K][]porcupine.Operation{}
		for _, op := range history {
			k := keyOf(op.Input)
			parts[k] = append(parts[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range slices.Sorted(maps.Keys(parts)) {
			out = append(out, parts[k])
		}
		return out
	}
	res, info := porcupine.CheckOperationsVerbose(model.ToModel(), all, timeout)
	switch res {
	case porcupine.Ok:
		return Linearizable, info
	case porcupine.Illegal:
		return NotLinearizable, info
	}
	return LinUnknown, info
}

// NewHistory returns an empty lock history stamped by now: a TCP run
// (package scenarios/tcprun) records real clients with the wall clock
// since its start. It is not safe for concurrent use.
func NewHistory(now func() time.Duration) *History { return &History{now: now} }
