package caches

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/reliable"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/mesi"
)

const (
	timerTick = "tick"
	// timerFlush fires the group commit (see Config.DisableGroupCommit).
	timerFlush = "flush"
	// maxClients bounds the per-client reply cache; the oldest is evicted.
	maxClients = 1024
	// maxBacklog bounds, per peer, the protocol messages waiting for room
	// in the reliable stream. Reaching it is impossible under the
	// configured limits; the node panics.
	maxBacklog = 1 << 16
	// payloadSlack is what a mesi.Message adds to its value when encoded.
	payloadSlack = 4096
)

// Server is one cache node (or, in broadcast mode, the memory node): a
// mesi.Protocol driven over reliable per-pair FIFO streams, with its
// durable side persisted before any message it caused is sent (see
// commit.go: per-key log records, group-committed).
//
// A peer that restarts loses what was in flight to and from it; the node
// then crashes its own cache side (mesi Crash: lines, transactions and
// client operations in progress are lost, a Directory sends its Resets),
// so nothing waits forever on a message that will never come. Clients
// retry the operations lost that way.
type Server struct {
	cfg   Config
	env   nodes.Env
	self  nodes.NodeID
	start time.Time
	epoch uint64
	proto mesi.Protocol
	dur   mesi.Durable
	store *store
	ep    *reliable.Endpoint

	// Per event: payloads to hand to the streams.
	sends []outMsg
	// Until the next commit: packets to transmit and replies to send,
	// held while the durable state they may depend on is not synced.
	pkts []reliable.Packet
	held []heldReply
	// flushArmed: a timerFlush is pending; everything is held until it
	// fires.
	flushArmed bool
	// backlog holds, per peer, payloads reliable.Send refused
	// (ErrBackpressure), in order.
	backlog map[nodes.NodeID][][]byte

	nextOp  uint64
	waiting map[uint64]waiter // protocol request id -> client
	clients map[string]*clientState
	touch   uint64
	stats   Stats
}

type outMsg struct {
	to      nodes.NodeID
	payload []byte
}

type waiter struct {
	client string
	req    uint64
	from   nodes.NodeID
	put    bool
}

// clientState is what a node remembers of a client: its last completed
// request and reply (answered again to a retry), and the request in
// progress.
type clientState struct {
	lastReq  uint64
	reply    *Reply
	inflight uint64
	touched  uint64
}

// Stats counts what a node did.
type Stats struct {
	Requests, Replies, Busy, BadRequests, Duplicates uint64
	// PeerRestarts counts peer restarts seen (each crashed the cache side).
	PeerRestarts uint64
	// Resent counts answers sent again to a restarted peer's new
	// incarnation (see resendToNewIncarnation).
	Resent uint64
	// Persists counts syncs of the durable state's log (each one a group
	// commit of the keys dirtied since the one before).
	Persists uint64
	// LogRecords counts the per-key records appended to the log.
	LogRecords uint64
	// Compactions counts the snapshots written (one at every boot, then
	// whenever the log outgrows the last snapshot).
	Compactions uint64
	// Backlogged counts payloads that waited for room in a stream.
	Backlogged uint64
	// BadPayloads counts delivered payloads that did not decode.
	BadPayloads uint64
	// Epoch is the node's incarnation.
	Epoch uint64
}

// NewServer returns a factory of cache nodes configured by cfg, or an
// error naming the bad field and its value.
func NewServer(cfg Config) (nodes.Factory, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return func(nodes.NodeID) nodes.Node { return &Server{cfg: cfg} }, nil
}

// Protocol returns the node's coherence controller (nil before Start).
func (s *Server) Protocol() mesi.Protocol { return s.proto }

// Stats returns the node's counters.
func (s *Server) Stats() Stats {
	st := s.stats
	if s.store != nil {
		st.Persists, st.LogRecords, st.Compactions = s.store.stats.syncs, s.store.stats.records, s.store.stats.compactions
	}
	return st
}

// now is the time the protocol and the streams see.
func (s *Server) now() time.Duration { return s.env.Now().Sub(s.start) }

// Start implements nodes.Node: bump the boot counter (the epoch), build the
// protocol, restore its durable side, and announce the restart.
func (s *Server) Start(env nodes.Env) {
	s.env, s.self, s.start = env, env.ID(), env.Now()
	s.backlog, s.waiting, s.clients = map[nodes.NodeID][][]byte{}, map[uint64]waiter{}, map[string]*clientState{}
	members := s.cfg.members()
	if _, ok := slices.BinarySearch(members, s.self); !ok {
		panic(fmt.Sprintf("caches: node %s is not in the configured nodes %v", s.self, members))
	}
	epoch, err := nextBoot(env.Disk())
	if err != nil {
		panic(fmt.Sprintf("caches: node %s: boot counter: %v", s.self, err))
	}
	s.epoch, s.stats.Epoch = epoch, epoch
	mcfg := mesi.Config{Self: mesi.NodeID(s.self), Memory: mesi.NodeID(s.cfg.Memory), Capacity: s.cfg.Capacity,
		WriteThrough: s.cfg.WriteThrough, MaxValueBytes: s.cfg.MaxValueBytes}
	for _, n := range members {
		mcfg.Nodes = append(mcfg.Nodes, mesi.NodeID(n))
	}
	if s.cfg.Protocol == ProtocolBroadcast {
		b, err := mesi.NewBroadcast(mcfg)
		if err != nil {
			panic(fmt.Sprintf("caches: node %s: %v", s.self, err))
		}
		s.proto, s.dur = b, b
	} else {
		ids := make([]hashring.NodeID, len(s.cfg.Nodes))
		for i, n := range s.cfg.Nodes {
			ids[i] = hashring.NodeID(n)
		}
		ring, err := hashring.New(s.cfg.VNodes, hashring.MD5, ids...)
		if err != nil {
			panic(fmt.Sprintf("caches: node %s: ring: %v", s.self, err))
		}
		mcfg.Home = func(key string) mesi.NodeID { return mesi.NodeID(ring.Lookup(key)) }
		d, err := mesi.NewDirectory(mcfg)
		if err != nil {
			panic(fmt.Sprintf("caches: node %s: %v", s.self, err))
		}
		s.proto, s.dur = d, d
	}
	if s.store, err = openStore(env.Disk(), s.dur); err != nil {
		panic(fmt.Sprintf("caches: node %s: durable state: %v", s.self, err))
	}
	if st := s.store.stats; st.replayed > 0 || st.truncated > 0 {
		s.env.Logf("caches: recovered: %d log records replayed, a torn tail of %d bytes cut", st.replayed, st.truncated)
	}
	s.dur.SetTxnBase(epoch << 32)
	s.dur.Restart() // a restarted node behaves like one that crashed (Resets first) and lost what it had in flight
	// Restart may change every key: a snapshot rather than a record each,
	// which also leaves the log empty.
	if err := s.store.compact(); err != nil {
		panic(fmt.Sprintf("caches: node %s: persist: %v", s.self, err))
	}
	s.ep, err = reliable.New(reliable.Config{Self: reliable.NodeID(s.self), Epoch: epoch, RTO: 10 * s.cfg.Tick,
		MaxPayload: s.cfg.MaxValueBytes + payloadSlack})
	if err != nil {
		panic(fmt.Sprintf("caches: node %s: %v", s.self, err))
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.Started(s.self)
	}
	s.env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	s.afterEvent()
}

// Fire implements nodes.Node: the streams' tick, or the group commit.
func (s *Server) Fire(t nodes.Timer) {
	switch t.Kind {
	case timerFlush:
		s.flushArmed = false
		s.commit()
		return
	case timerTick:
	default:
		return
	}
	s.pkts = append(s.pkts, s.ep.Tick(s.now())...)
	s.env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	s.afterEvent()
}

// Receive implements nodes.Node.
func (s *Server) Receive(from nodes.NodeID, m nodes.Message) {
	switch m := m.(type) {
	case *Packet:
		s.onPacket(from, m.P)
	case *Request:
		s.onRequest(from, m)
	}
}

// onPacket feeds a packet to the streams and delivers what they deliver.
func (s *Server) onPacket(from nodes.NodeID, p reliable.Packet) {
	if nodes.NodeID(p.From) != from || nodes.NodeID(p.To) != s.self {
		return
	}
	if _, ok := slices.BinarySearch(s.cfg.members(), from); !ok {
		return
	}
	del, out, reset := s.ep.Receive(p, s.now())
	s.pkts = append(s.pkts, out...)
	if reset {
		// What the events before it completed is committed first, as if
		// each had committed on its own: the crash of the cache side must
		// not overtake the replies to writes it is about to lose.
		s.commit()
		s.peerRestarted(from)
		s.resendToNewIncarnation(from)
	}
	for _, d := range del {
		m, err := mesi.DecodeMessage(d.Payload, mesi.DefaultMaxKeyBytes, s.cfg.MaxValueBytes)
		if err != nil || m.From != mesi.NodeID(d.From) || m.To != mesi.NodeID(s.self) {
			s.stats.BadPayloads++
			s.env.Logf("caches: dropped a bad payload from %s: %v", d.From, err)
			continue
		}
		s.proto.Deliver(m, s.now())
		s.drainOutbox()
	}
	s.afterEvent()
}

// answers are the message kinds that answer the receiver's own
// transaction (named by Txn), as opposed to requests and forwards.
var answers = map[mesi.MsgKind]bool{
	mesi.Data: true, mesi.InvAck: true, mesi.PutAck: true,
	mesi.ReadResp: true, mesi.BInvAck: true, mesi.MemData: true, mesi.MemWriteAck: true,
}

// resendToNewIncarnation sends again, to a peer's new incarnation, the
// payloads the reset discarded that the protocol needs delivered:
//
//   - answers to that incarnation's own transactions (their Txn carries
//     its epoch in the high bits; see mesi.Durable.SetTxnBase). This node
//     may have answered the restarted peer before it learned of the
//     restart, on the stream of the old incarnation, which the peer
//     drops: without the resend, the peer's transaction would wait for
//     that answer forever;
//   - Invs, which a home sends on behalf of a third node, the writer
//     that counts the Inv-Acks: a writer that never talked to the old
//     incarnation does not learn of the restart, so without the resend
//     it would wait for that ack forever (cache-swarm seed 389). An Inv
//     is acknowledged whatever the receiver holds.
func (s *Server) resendToNewIncarnation(peer nodes.NodeID) {
	epoch := s.ep.PeerEpoch(reliable.NodeID(peer))
	for _, d := range s.ep.TakeDiscarded() {
		if nodes.NodeID(d.To) != peer {
			continue
		}
		m, err := mesi.DecodeMessage(d.Payload, mesi.DefaultMaxKeyBytes, s.cfg.MaxValueBytes)
		if err == nil && (m.Kind == mesi.Inv || answers[m.Kind] && m.Txn>>32 == epoch) {
			s.stats.Resent++
			s.sends = append(s.sends, outMsg{to: peer, payload: d.Payload})
		}
	}
}

// peerRestarted handles a peer's new incarnation: what was in flight to
// and from its old one is gone, so the cache side crashes (see Server).
func (s *Server) peerRestarted(peer nodes.NodeID) {
	s.stats.PeerRestarts++
	s.env.Logf("caches: %s restarted: crashing the cache side", peer)
	s.drainOutbox()
	delete(s.backlog, peer)
	s.sends = slices.DeleteFunc(s.sends, func(o outMsg) bool { return o.to == peer })
	if s.cfg.Observer != nil {
		var lost []string
		for _, l := range s.proto.Lines() {
			if l.State == mesi.Modified {
				lost = append(lost, l.Key)
			}
		}
		s.cfg.Observer.Lost(s.self, lost)
	}
	s.proto.Crash()
	clear(s.waiting)
	for _, c := range s.clients { //det:ordered resets each entry independently
		c.inflight = 0
	}
	s.drainOutbox()
}

// onRequest runs a client's get or put.
func (s *Server) onRequest(from nodes.NodeID, r *Request) {
	s.stats.Requests++
	c := s.clients[r.Client]
	if c != nil {
		c.touched = s.tick()
		switch {
		case r.Req == c.lastReq && c.reply != nil:
			s.stats.Duplicates++
			s.reply(from, c.reply)
			return
		case r.Req < c.lastReq || r.Req == c.inflight:
			s.stats.Duplicates++
			return // stale, or in progress: its answer will come
		}
	}
	bad := func(detail string) {
		s.stats.BadRequests++
		s.env.Send(from, &Reply{Client: r.Client, Req: r.Req, Service: nodes.ServiceBadRequest, Detail: detail})
	}
	switch {
	case r.Client == "":
		bad("client: empty")
		return
	case r.Op != OpGet && r.Op != OpPut:
		bad(fmt.Sprintf("op: %d unknown", r.Op))
		return
	case r.Op == OpGet && len(r.Value) > 0:
		bad(fmt.Sprintf("value: %d bytes given to a get", len(r.Value)))
		return
	}
	if n := s.backlogged(); n > 0 {
		s.stats.Busy++
		s.env.Send(from, &Reply{Client: r.Client, Req: r.Req, Service: nodes.ServiceBusy,
			Detail: fmt.Sprintf("%d protocol messages wait for room in the streams", n)})
		return
	}
	s.nextOp++
	var err error
	if r.Op == OpGet {
		err = s.proto.Get(s.nextOp, r.Key, s.now())
	} else {
		err = s.proto.Put(s.nextOp, r.Key, r.Value, s.now())
	}
	if err != nil {
		bad(err.Error())
		return
	}
	if c == nil {
		c = s.newClient(r.Client)
	}
	c.inflight = r.Req
	s.waiting[s.nextOp] = waiter{client: r.Client, req: r.Req, from: from, put: r.Op == OpPut}
	s.drainOutbox()
	s.afterEvent()
}

func (s *Server) tick() uint64 { s.touch++; return s.touch }

// newClient adds a client's state, evicting the least recently seen
// client at maxClients.
func (s *Server) newClient(id string) *clientState {
	if len(s.clients) >= maxClients {
		oldest, at := "", uint64(0)
		for k, c := range s.clients { //det:ordered touched values are unique: the minimum is one entry whatever the order
			if oldest == "" || c.touched < at {
				oldest, at = k, c.touched
			}
		}
		delete(s.clients, oldest)
	}
	c := &clientState{touched: s.tick()}
	s.clients[id] = c
	return c
}

// backlogged returns how many payloads wait for room in a stream.
func (s *Server) backlogged() int {
	n := 0
	for _, b := range s.backlog { //det:ordered a sum
		n += len(b)
	}
	return n
}

// drainOutbox moves the protocol's outbox to s.sends, delivering the
// messages a node sends itself at once, in order.
func (s *Server) drainOutbox() {
	for {
		out := s.proto.Outbox()
		if len(out) == 0 {
			return
		}
		for _, m := range out {
			if m.To == mesi.NodeID(s.self) {
				s.proto.Deliver(m, s.now())
				continue
			}
			s.sends = append(s.sends, outMsg{to: nodes.NodeID(m.To), payload: mesi.AppendMessage(nil, m)})
		}
	}
}

// send hands one payload to the stream to peer, or to its backlog.
func (s *Server) send(to nodes.NodeID, payload []byte, now time.Duration) {
	if q := s.backlog[to]; len(q) > 0 {
		s.enqueue(to, payload)
		return
	}
	pk, err := s.ep.Send(reliable.NodeID(to), payload, now)
	switch {
	case errors.Is(err, reliable.ErrBackpressure):
		s.enqueue(to, payload)
	case err != nil:
		panic(fmt.Sprintf("caches: node %s: send to %s: %v", s.self, to, err))
	default:
		s.pkts = append(s.pkts, pk...)
	}
}

func (s *Server) enqueue(to nodes.NodeID, payload []byte) {
	s.stats.Backlogged++
	if len(s.backlog[to]) >= maxBacklog {
		panic(fmt.Sprintf("caches: node %s: %d protocol messages backlogged for %s (bound %d), %d pending in its stream",
			s.self, len(s.backlog[to]), to, maxBacklog, s.ep.Pending(reliable.NodeID(to))))
	}
	s.backlog[to] = append(s.backlog[to], payload)
}

// flushBacklog hands peer's backlog to its stream while it takes them.
func (s *Server) flushBacklog(peer nodes.NodeID, now time.Duration) {
	q := s.backlog[peer]
	for len(q) > 0 {
		pk, err := s.ep.Send(reliable.NodeID(peer), q[0], now)
		if errors.Is(err, reliable.ErrBackpressure) {
			break
		}
		if err != nil {
			panic(fmt.Sprintf("caches: node %s: send to %s: %v", s.self, peer, err))
		}
		s.pkts = append(s.pkts, pk...)
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.backlog, peer)
	} else {
		s.backlog[peer] = q
	}
}

// Epoch returns this incarnation's epoch (its boot counter).
func (s *Server) Epoch() uint64 { return s.epoch }

// PeerEpoch returns the incarnation of peer this node's streams are tied
// to (0 if it has heard nothing from it yet). Below the peer's own Epoch,
// this node has not yet learned that the peer restarted: the messages
// between them that were in flight at the crash are gone, and this node
// still holds what it built from the old incarnation.
func (s *Server) PeerEpoch(peer nodes.NodeID) uint64 {
	if s.ep == nil {
		return 0
	}
	return s.ep.PeerEpoch(reliable.NodeID(peer))
}
