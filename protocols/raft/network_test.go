package raft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"slices"
)

// tb is the part of testing.TB (and rapid.T) the test network needs.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// testNode is one simulated process: a RawNode, what it persisted, and a
// tiny state machine (a hash chain over applied entries).
type testNode struct {
	id      NodeID
	cfg     Config
	raft    *RawNode
	store   Storage
	up      bool
	applied uint64 // applied index of the state machine
	hash    uint64 // hash chain of applied entries
	data    [][]byte
	reads   []ReadState
	snaps   int // snapshots restored from Ready
}

// network is an in-memory, deterministic cluster. Messages are queued and
// delivered one by one; the test decides the order and what is lost. The
// ClusterChecker runs after every step, and every Ready is checked against
// the persistence contract.
type network struct {
	t       tb
	ids     []NodeID
	nodes   map[NodeID]*testNode
	queue   []Message
	cut     map[[2]NodeID]bool    // from->to links that drop everything
	filter  func(m *Message) bool // false drops m; it may also edit m
	seen    func(m Message)
	onRead  func(id NodeID, rs ReadState)
	checker *ClusterChecker
	wire    bool // round-trip every delivered message through the codec
	steps   int
	// sentFirst counts Readies whose messages could go before the
	// persist; appliedFirst the entries that could be applied before it.
	sentFirst, appliedFirst int
}

func nodeIDs(n int) []NodeID {
	ids := make([]NodeID, n)
	for i := range ids {
		ids[i] = NodeID(fmt.Sprintf("n%d", i+1))
	}
	return ids
}

// newNetwork builds n nodes with DefaultConfig (seeded per node) adjusted
// by opts.
func newNetwork(t tb, n int, opts ...func(*Config)) *network {
	t.Helper()
	nw := &network{
		t: t, ids: nodeIDs(n), nodes: map[NodeID]*testNode{},
		cut: map[[2]NodeID]bool{}, checker: NewClusterChecker(), wire: true,
	}
	for i, id := range nw.ids {
		cfg := DefaultConfig(id, nw.ids, rand.New(rand.NewPCG(uint64(i+1), 42)))
		cfg.CompactionOverhead = 5
		for _, o := range opts {
			o(&cfg)
		}
		tn := &testNode{id: id, cfg: cfg}
		nw.nodes[id] = tn
		nw.start(tn)
	}
	return nw
}

// start creates (or re-creates after a crash) the node from its storage.
func (nw *network) start(tn *testNode) {
	nw.t.Helper()
	st := Storage{HardState: tn.store.HardState, Snapshot: tn.store.Snapshot, Entries: slices.Clone(tn.store.Entries)}
	r, err := New(tn.cfg, st)
	if err != nil {
		nw.t.Fatalf("start %s: %v", tn.id, err)
	}
	tn.raft, tn.up = r, true
	tn.applied, tn.hash, tn.data = 0, 0, nil
	if s := st.Snapshot; !s.IsEmpty() {
		tn.applied, tn.hash = decodeState(s.Data)
		if err := nw.checker.ObserveSnapshot(tn.id, s.Index); err != nil {
			nw.t.Fatalf("%v", err)
		}
	}
	nw.observe(tn)
}

func (nw *network) node(id NodeID) *RawNode { return nw.nodes[id].raft }

// observe runs the cluster checker on one node.
func (nw *network) observe(tn *testNode) {
	nw.t.Helper()
	if !tn.up {
		return
	}
	if err := nw.checker.Observe(tn.id, tn.raft.Status(), tn.raft.LogView()); err != nil {
		nw.t.Fatalf("step %d: %v", nw.steps, err)
	}
}

// process handles every Ready of node id.
func (nw *network) process(id NodeID) {
	nw.t.Helper()
	tn := nw.nodes[id]
	for tn.up && tn.raft.HasReady() {
		rd := tn.raft.Ready()
		nw.checkEarly(tn, rd)
		nw.persist(tn, rd)
		nw.checkContract(tn, rd)
		nw.queue = append(nw.queue, rd.Messages...)
		nw.apply(tn, rd)
		tn.reads = append(tn.reads, rd.ReadStates...)
		if nw.onRead != nil {
			for _, rs := range rd.ReadStates {
				nw.onRead(id, rs)
			}
		}
		tn.raft.Advance()
	}
	nw.observe(tn)
}

func (nw *network) processAll() {
	for _, id := range nw.ids {
		nw.process(id)
	}
}

// persist does what a node's WAL does with a Ready.
func (nw *network) persist(tn *testNode, rd Ready) {
	st := &tn.store
	if rd.Snapshot != nil {
		st.Snapshot = *rd.Snapshot
		st.Entries = nil
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		keep := st.Entries
		for len(keep) > 0 && keep[len(keep)-1].Index >= first {
			keep = keep[:len(keep)-1]
		}
		gap := len(keep) > 0 && keep[len(keep)-1].Index+1 != first || len(keep) == 0 && first != st.Snapshot.Index+1
		if gap {
			nw.t.Fatalf("%s: Ready entries start at %d, storage %v", tn.id, first, storeRange(st))
		}
		st.Entries = append(keep[:len(keep):len(keep)], rd.Entries...)
	}
	if rd.HardState != nil {
		st.HardState = *rd.HardState
	}
}

func storeRange(st *Storage) string {
	if len(st.Entries) == 0 {
		return fmt.Sprintf("empty after snapshot %d", st.Snapshot.Index)
	}
	return fmt.Sprintf("[%d, %d] snapshot %d", st.Entries[0].Index, st.Entries[len(st.Entries)-1].Index, st.Snapshot.Index)
}

// storedLast is the last persisted index.
func storedLast(st *Storage) uint64 {
	if n := len(st.Entries); n > 0 {
		return st.Entries[n-1].Index
	}
	return st.Snapshot.Index
}

// storedTerm is the term of the persisted entry at i.
func storedTerm(st *Storage, i uint64) (uint64, bool) {
	if i == st.Snapshot.Index {
		return st.Snapshot.Term, true
	}
	if len(st.Entries) == 0 || i < st.Entries[0].Index || i > st.Entries[len(st.Entries)-1].Index {
		return 0, false
	}
	return st.Entries[i-st.Entries[0].Index].Term, true
}

// checkEarly verifies, against what was persisted before the Ready, what
// the Ready allows before its persist: with SendFirst only a leader's
// messages, at a persisted term; the StableCommitted prefix of the
// committed entries already stored.
func (nw *network) checkEarly(tn *testNode, rd Ready) {
	nw.t.Helper()
	st := &tn.store
	if rd.SendFirst {
		for _, m := range rd.Messages {
			// A leader's own messages, and answers that promise nothing
			// (to a stale leader or candidate).
			switch {
			case m.Type == MsgApp, m.Type == MsgHeartbeat, m.Type == MsgSnap, m.Type == MsgReadIndexResp, m.Type == MsgTimeoutNow:
			case m.Type == MsgAppResp && m.Index == 0, m.Type == MsgVoteResp && m.Reject, m.Type == MsgPreVoteResp && m.Reject:
			default:
				nw.t.Fatalf("%s may send %v before its persist", tn.id, m)
			}
			if last := storedLast(st); (m.Type == MsgApp || m.Type == MsgHeartbeat) && m.Commit > last ||
				m.Type == MsgReadIndexResp && m.Index > last {
				nw.t.Fatalf("%s may send %v before its persist, but stored only up to %d", tn.id, m, last)
			}
			if m.Type != MsgPreVoteResp && m.Term > st.HardState.Term {
				nw.t.Fatalf("%s may send %v before persisting term %d (persisted %d)", tn.id, m, m.Term, st.HardState.Term)
			}
		}
		if len(rd.Messages) > 0 {
			nw.sentFirst++
		}
	}
	if rd.StableCommitted > len(rd.CommittedEntries) || rd.StableCommitted > 0 && rd.Snapshot != nil {
		nw.t.Fatalf("%s: StableCommitted %d of %d committed entries (snapshot %v)", tn.id, rd.StableCommitted, len(rd.CommittedEntries), rd.Snapshot != nil)
	}
	for _, e := range rd.CommittedEntries[:rd.StableCommitted] {
		if t, ok := storedTerm(st, e.Index); !ok || t != e.Term {
			nw.t.Fatalf("%s may apply %d/t%d before its persist, but stored %s", tn.id, e.Index, e.Term, storeRange(st))
		}
	}
	nw.appliedFirst += rd.StableCommitted
}

// checkContract verifies that every message of a Ready promises only what
// is persisted once the Ready's own entries and hard state are stored.
func (nw *network) checkContract(tn *testNode, rd Ready) {
	nw.t.Helper()
	st := &tn.store
	for _, m := range rd.Messages {
		switch {
		case m.Type == MsgPreVote || m.Type == MsgPreVoteResp:
		case m.Term > st.HardState.Term:
			nw.t.Fatalf("%s sent %v with term above persisted %d", tn.id, m, st.HardState.Term)
		}
		switch m.Type {
		case MsgAppResp:
			if !m.Reject && m.Index > 0 {
				if _, ok := storedTerm(st, m.Index); !ok && m.Index > st.Snapshot.Index {
					nw.t.Fatalf("%s acked %d but persisted %s", tn.id, m.Index, storeRange(st))
				}
			}
		case MsgVoteResp:
			if !m.Reject && (st.HardState.Vote != m.To || st.HardState.Term != m.Term) {
				nw.t.Fatalf("%s granted %v but persisted %+v", tn.id, m, st.HardState)
			}
		case MsgApp:
			for _, e := range m.Entries {
				if t, ok := storedTerm(st, e.Index); !ok || t != e.Term {
					nw.t.Fatalf("%s sent entry %d/t%d not persisted (%s)", tn.id, e.Index, e.Term, storeRange(st))
				}
			}
		}
	}
}

// apply feeds the Ready's snapshot and committed entries to the state
// machine, checking state machine safety.
func (nw *network) apply(tn *testNode, rd Ready) {
	nw.t.Helper()
	if s := rd.Snapshot; s != nil {
		tn.applied, tn.hash = decodeState(s.Data)
		if tn.applied != s.Index {
			nw.t.Fatalf("%s: snapshot %d carries state at %d", tn.id, s.Index, tn.applied)
		}
		tn.snaps++
		if err := nw.checker.ObserveSnapshot(tn.id, s.Index); err != nil {
			nw.t.Fatalf("%v", err)
		}
	}
	for _, e := range rd.CommittedEntries {
		if e.Index != tn.applied+1 {
			nw.t.Fatalf("%s: applying %d after %d", tn.id, e.Index, tn.applied)
		}
		h := EntryHash(e)
		if err := nw.checker.ObserveApplied(tn.id, e.Index, e.Term, h); err != nil {
			nw.t.Fatalf("step %d: %v", nw.steps, err)
		}
		tn.applied = e.Index
		tn.hash = chain(tn.hash, h)
		if e.Type == EntryNormal {
			tn.data = append(tn.data, e.Data)
		}
	}
}

func chain(h, x uint64) uint64 {
	f := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], h)
	binary.LittleEndian.PutUint64(b[8:], x)
	f.Write(b[:])
	return f.Sum64()
}

func encodeState(applied, hash uint64) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, applied), hash)
}

func decodeState(b []byte) (applied, hash uint64) {
	return binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

// compact snapshots node id at its applied index, as an application
// would, and trims its storage like the RawNode trims its log.
func (nw *network) compact(id NodeID) error {
	tn := nw.nodes[id]
	if err := tn.raft.Compact(tn.applied, encodeState(tn.applied, tn.hash)); err != nil {
		return err
	}
	tn.store.Snapshot = tn.raft.Snapshot()
	first := tn.raft.Status().FirstIndex
	for len(tn.store.Entries) > 0 && tn.store.Entries[0].Index < first {
		tn.store.Entries = tn.store.Entries[1:]
	}
	nw.observe(tn)
	return nil
}

// deliverable reports whether m would reach its destination now.
func (nw *network) deliverable(m *Message) bool {
	to := nw.nodes[m.To]
	if to == nil || !to.up || !nw.nodes[m.From].up || nw.cut[[2]NodeID{m.From, m.To}] {
		return false
	}
	return nw.filter == nil || nw.filter(m)
}

// deliverAt removes message k from the queue and delivers it (or drops it).
func (nw *network) deliverAt(k int) {
	nw.t.Helper()
	m := nw.queue[k]
	nw.queue = slices.Delete(nw.queue, k, k+1)
	nw.steps++
	if !nw.deliverable(&m) {
		return
	}
	if nw.seen != nil {
		nw.seen(m)
	}
	if nw.wire {
		m = nw.roundTrip(m)
	}
	if err := nw.nodes[m.To].raft.Step(m); err != nil {
		nw.t.Fatalf("step %v: %v", m, err)
	}
	nw.process(m.To)
}

// roundTrip passes m through the wire codec and checks it comes back equal.
func (nw *network) roundTrip(m Message) Message {
	nw.t.Helper()
	b := m.Marshal(nil)
	got, err := UnmarshalMessage(b)
	if err != nil {
		nw.t.Fatalf("unmarshal %v: %v", m, err)
	}
	if !messagesEqual(m, got) {
		nw.t.Fatalf("round trip changed message:\n%+v\n%+v", m, got)
	}
	return got
}

// messagesEqual compares messages treating nil and empty slices alike.
func messagesEqual(a, b Message) bool {
	norm := func(m Message) Message {
		if len(m.Context) == 0 {
			m.Context = nil
		}
		if len(m.Entries) == 0 {
			m.Entries = nil
		}
		m.Entries = slices.Clone(m.Entries)
		for i := range m.Entries {
			if len(m.Entries[i].Data) == 0 {
				m.Entries[i].Data = nil
			}
		}
		if m.Snapshot != nil {
			s := *m.Snapshot
			if len(s.Data) == 0 {
				s.Data = nil
			}
			m.Snapshot = &s
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// stabilize delivers messages in FIFO order until none is left.
func (nw *network) stabilize() {
	nw.t.Helper()
	nw.processAll()
	for guard := 0; len(nw.queue) > 0; guard++ {
		if guard > 200000 {
			nw.t.Fatalf("network did not stabilize: %d messages queued", len(nw.queue))
		}
		nw.deliverAt(0)
	}
}

// tickAll ticks every live node once.
func (nw *network) tickAll() {
	for _, id := range nw.ids {
		if tn := nw.nodes[id]; tn.up {
			tn.raft.Tick()
			nw.process(id)
		}
	}
}

// run ticks every node n times, stabilizing after each tick.
func (nw *network) run(n int) {
	nw.t.Helper()
	for range n {
		nw.tickAll()
		nw.stabilize()
	}
}

// elect makes id campaign and stabilizes; it fails unless id leads.
func (nw *network) elect(id NodeID) {
	nw.t.Helper()
	nw.node(id).Campaign()
	nw.stabilize()
	if st := nw.node(id).Status(); st.Role != RoleLeader {
		nw.t.Fatalf("%s did not win the election: %s at term %d (lead %q)", id, st.Role, st.Term, st.Lead)
	}
}

// leader returns the live leader of the highest term, or "".
func (nw *network) leader() NodeID {
	best, term := NodeID(""), uint64(0)
	for _, id := range nw.ids {
		tn := nw.nodes[id]
		if tn.up && tn.raft.role == RoleLeader && tn.raft.term >= term {
			best, term = id, tn.raft.term
		}
	}
	return best
}

func (nw *network) crash(id NodeID) {
	tn := nw.nodes[id]
	tn.up, tn.raft = false, nil
}

func (nw *network) restart(id NodeID) {
	nw.t.Helper()
	nw.checker.ObserveRestart(id)
	nw.start(nw.nodes[id])
}

// isolate cuts every link to and from id.
func (nw *network) isolate(id NodeID) {
	for _, o := range nw.ids {
		if o != id {
			nw.cut[[2]NodeID{id, o}] = true
			nw.cut[[2]NodeID{o, id}] = true
		}
	}
}

// partition cuts every link between different groups.
func (nw *network) partition(groups ...[]NodeID) {
	group := map[NodeID]int{}
	for g, ids := range groups {
		for _, id := range ids {
			group[id] = g
		}
	}
	for _, a := range nw.ids {
		for _, b := range nw.ids {
			if a != b && group[a] != group[b] {
				nw.cut[[2]NodeID{a, b}] = true
			}
		}
	}
}

func (nw *network) heal() { clear(nw.cut) }

// propose proposes data on id and processes its Ready.
func (nw *network) propose(id NodeID, data string) error {
	err := nw.node(id).Propose([]byte(data))
	nw.process(id)
	return err
}

// mustPropose proposes on id and stabilizes.
func (nw *network) mustPropose(id NodeID, data string) {
	nw.t.Helper()
	if err := nw.propose(id, data); err != nil {
		nw.t.Fatalf("propose on %s: %v", id, err)
	}
	nw.stabilize()
}

// appliedData returns the normal entries node id applied, as strings.
func (nw *network) appliedData(id NodeID) []string {
	var out []string
	for _, d := range nw.nodes[id].data {
		out = append(out, string(d))
	}
	return out
}

// checkConverged verifies that every live node holds the same log and
// state machine, with everything committed and applied.
func (nw *network) checkConverged() {
	nw.t.Helper()
	ref := nw.nodes[nw.ids[0]]
	for _, id := range nw.ids {
		tn := nw.nodes[id]
		st := tn.raft.Status()
		if st.Commit != st.LastIndex || tn.applied != st.Commit {
			nw.t.Fatalf("%s not converged: commit %d last %d applied %d", id, st.Commit, st.LastIndex, tn.applied)
		}
		rs := ref.raft.Status()
		if st.LastIndex != rs.LastIndex || tn.hash != ref.hash {
			nw.t.Fatalf("%s and %s differ: last %d/%d hash %x/%x", id, ref.id, st.LastIndex, rs.LastIndex, tn.hash, ref.hash)
		}
		lo := max(st.FirstIndex, rs.FirstIndex)
		a, errA := tn.raft.Entries(lo, st.LastIndex+1)
		b, errB := ref.raft.Entries(lo, st.LastIndex+1)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			nw.t.Fatalf("%s and %s logs differ from %d (%v, %v)", id, ref.id, lo, errA, errB)
		}
	}
}

// countMsgs counts queued messages matching pred.
func (nw *network) countQueued(pred func(Message) bool) int {
	n := 0
	for _, m := range nw.queue {
		if pred(m) {
			n++
		}
	}
	return n
}

func hasData(d [][]byte, s string) bool {
	return slices.ContainsFunc(d, func(b []byte) bool { return bytes.Equal(b, []byte(s)) })
}
