package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/sim"
)

// DefaultMaxMessages bounds the messages a space-time diagram draws: past
// it the diagram stops and says how many messages it left out.
const DefaultMaxMessages = 2000

// lamportMaxMarks bounds the crash, restart, pause, leader and fault marks.
const lamportMaxMarks = 1000

// LamportOptions choose what a space-time (Lamport) diagram of a run
// shows.
type LamportOptions struct {
	// From and To bound the window of virtual time; To 0 means until the
	// end of the run.
	From, To time.Duration
	// Servers are always drawn as lanes, in this order. Any other node is
	// a client.
	Servers []nodes.NodeID
	// Clients adds a lane for each client that sends or receives a drawn
	// message (a client that stays quiet takes no room). Without it only
	// messages between servers are drawn.
	Clients bool
	// Node, if set, keeps only the messages sent or received by this node
	// (a client named here gets its lane even without Clients).
	Node nodes.NodeID
	// MaxMessages bounds the messages drawn (default DefaultMaxMessages).
	MaxMessages int
	// Label, if set, names a message on its arrow (e.g. a Raft message's
	// kind, where the type alone says "raft.msg"); by default the label is
	// the message type's registered name.
	Label func(m nodes.Message) string
	// Title heads the diagram.
	Title string
}

// ArrowEnd says how a message's arrow ends.
type ArrowEnd uint8

// How arrows end.
const (
	EndDelivered ArrowEnd = iota + 1 // the message reached its node
	EndLost                          // the network lost it as it was sent (loss, or a partition at send)
	EndDropped                       // a partition that formed in flight dropped it on arrival
	EndDead                          // it reached a crashed node, or a later incarnation of it
	EndInFlight                      // the run ended before it arrived
)

var arrowEndNames = [...]string{EndDelivered: "delivered", EndLost: "lost", EndDropped: "dropped",
	EndDead: "dead", EndInFlight: "in-flight"}

// String names the ending.
func (e ArrowEnd) String() string {
	if int(e) < len(arrowEndNames) && arrowEndNames[e] != "" {
		return arrowEndNames[e]
	}
	return fmt.Sprintf("end-%d", uint8(e))
}

// Arrow is one message, or one copy of a duplicated message, from its
// sender's lane to its receiver's. Its times are the run's, not clipped to
// the window: the renderer clips an arrow that crosses an edge of it.
type Arrow struct {
	MsgID    uint64
	Type     string // the message type's registered name
	Label    string // what the arrow is labelled, and coloured, by
	From, To nodes.NodeID
	Sent     time.Duration // when it was sent
	At       time.Duration // when it ended; for EndLost, Sent; for EndInFlight, the end of the run
	End      ArrowEnd
	// Dup marks a message the network duplicated: each delivered copy is
	// an arrow of its own.
	Dup bool
}

// MarkKind is what a mark on a lane (or across all lanes) shows.
type MarkKind uint8

// Marks.
const (
	MarkCrash   MarkKind = iota + 1 // the node crashed
	MarkRestart                     // the node started again after a crash
	MarkPause                       // the node was paused
	MarkResume                      // the node was resumed
	MarkLeader                      // the node became the leader
	MarkFault                       // a fault: on one node, or world-wide (Node "")
)

var markKindNames = [...]string{MarkCrash: "crash", MarkRestart: "restart", MarkPause: "pause",
	MarkResume: "resume", MarkLeader: "leader", MarkFault: "fault"}

// String names the mark.
func (k MarkKind) String() string {
	if int(k) < len(markKindNames) && markKindNames[k] != "" {
		return markKindNames[k]
	}
	return fmt.Sprintf("mark-%d", uint8(k))
}

// LaneMark is an event of a node's life (or a world-wide fault when Node is
// "") at a point in time.
type LaneMark struct {
	Kind MarkKind
	Node nodes.NodeID
	At   time.Duration
	Text string
}

// LaneSpan is a span of virtual time.
type LaneSpan struct{ From, To time.Duration }

// Lane is one node's vertical line.
type Lane struct {
	ID     nodes.NodeID
	Client bool
	// Down lists when the node was down (crashed) within the window.
	Down []LaneSpan
}

// LamportDiagram is the data of a space-time diagram: lanes, arrows and
// marks within a window. Rendering it (SVG) is separate.
type LamportDiagram struct {
	Title    string
	From, To time.Duration // the window drawn
	Lanes    []Lane
	Arrows   []Arrow
	Marks    []LaneMark
	// Messages is how many messages the arrows draw (a duplicated message
	// counts once).
	Messages int
	// Omitted counts the messages of the window left out because the
	// diagram reached its bound; Truncated says the window was cut short
	// (To is where it stopped) for that reason.
	Omitted   int
	Truncated bool
	// MaxMessages is the bound that applied.
	MaxMessages int
	// OmittedMarks counts the marks left out past their bound.
	OmittedMarks int
}

// Count returns how many arrows end in e.
func (d *LamportDiagram) Count(e ArrowEnd) int {
	n := 0
	for i := range d.Arrows {
		if d.Arrows[i].End == e {
			n++
		}
	}
	return n
}

// lamportInflight is a message whose arrow is not finished yet.
type lamportInflight struct {
	from, to nodes.NodeID
	typ      string
	label    string
	sent     time.Duration
	event    uint64 // the scheduler event that sent it
	copies   int    // 1, or 2 when duplicated
	ended    int    // copies accounted for
	drawn    bool   // false: sent before the window, only its send time is kept
}

// LamportBuilder collects a space-time diagram from a run's trace records,
// as they happen (sim.Trace.Watch, or scenarios.RunOptions.Watch). Its
// memory is bounded by MaxMessages and by the messages in flight.
type LamportBuilder struct {
	opts         LamportOptions
	server       map[nodes.NodeID]bool
	flying       map[uint64]*lamportInflight
	arrows       []Arrow
	marks        []LaneMark
	clients      map[nodes.NodeID]bool // client lanes in use
	down         map[nodes.NodeID]time.Duration
	downIn       map[nodes.NodeID][]LaneSpan
	messages     int
	omitted      int
	omittedMarks int
	cut          bool
	cutAt        time.Duration
	last         time.Duration
}

// NewLamportBuilder returns a builder for the diagram opts describe.
func NewLamportBuilder(opts LamportOptions) *LamportBuilder {
	if opts.MaxMessages <= 0 {
		opts.MaxMessages = DefaultMaxMessages
	}
	b := &LamportBuilder{opts: opts, server: map[nodes.NodeID]bool{}, flying: map[uint64]*lamportInflight{},
		clients: map[nodes.NodeID]bool{}, down: map[nodes.NodeID]time.Duration{},
		downIn: map[nodes.NodeID][]LaneSpan{}}
	for _, id := range opts.Servers {
		b.server[id] = true
	}
	return b
}

// inWindow reports whether t is inside the window (and before the cut).
func (b *LamportBuilder) inWindow(t time.Duration) bool {
	if t < b.opts.From || (b.opts.To > 0 && t > b.opts.To) {
		return false
	}
	return !b.cut || t <= b.cutAt
}

// wanted reports whether a message from → to belongs in the diagram.
func (b *LamportBuilder) wanted(from, to nodes.NodeID) bool {
	if n := b.opts.Node; n != "" && from != n && to != n {
		return false
	}
	return b.hasLane(from) && b.hasLane(to)
}

func (b *LamportBuilder) hasLane(id nodes.NodeID) bool {
	return b.server[id] || b.opts.Clients || id == b.opts.Node
}

// admit counts one more message to draw, or cuts the diagram at t when the
// bound is reached.
func (b *LamportBuilder) admit(t time.Duration) bool {
	if b.cut {
		b.omitted++
		return false
	}
	if b.messages >= b.opts.MaxMessages {
		b.cut, b.cutAt = true, t
		b.omitted++
		return false
	}
	b.messages++
	return true
}

// Add takes the next trace record and its message (nil if none). Records
// must come in the order the run produced them.
func (b *LamportBuilder) Add(r *sim.Record, m nodes.Message) {
	b.last = r.At
	switch r.Kind {
	case sim.TraceSend:
		b.send(r, m)
	case sim.TraceDuplicate:
		if f := b.flying[r.MsgID]; f != nil {
			f.copies = 2
		}
	case sim.TraceDeliver:
		b.arrive(r, m, EndDelivered)
	case sim.TraceDead:
		b.arrive(r, m, EndDead)
	case sim.TraceDrop:
		if r.MsgID == 0 {
			return // to an unknown node: no message id, no lane
		}
		if f := b.flying[r.MsgID]; f != nil && f.event == r.Event && r.Node == f.from {
			b.arrive(r, m, EndLost)
			return
		}
		b.arrive(r, m, EndDropped)
	case sim.TraceCrash:
		b.down[r.Node] = r.At
		b.mark(LaneMark{Kind: MarkCrash, Node: r.Node, At: r.At})
	case sim.TraceStart:
		if start, ok := b.down[r.Node]; ok {
			delete(b.down, r.Node)
			b.noteDown(r.Node, start, r.At)
			b.mark(LaneMark{Kind: MarkRestart, Node: r.Node, At: r.At, Text: r.Text})
		}
	case sim.TracePause:
		b.mark(LaneMark{Kind: MarkPause, Node: r.Node, At: r.At})
	case sim.TraceResume:
		b.mark(LaneMark{Kind: MarkResume, Node: r.Node, At: r.At, Text: r.Text})
	case sim.TraceFault:
		b.mark(LaneMark{Kind: MarkFault, Node: r.Node, At: r.At, Text: r.Text})
	}
}

// label names message m of record r.
func (b *LamportBuilder) label(r *sim.Record, m nodes.Message) string {
	if b.opts.Label != nil && m != nil {
		if l := b.opts.Label(m); l != "" {
			return l
		}
	}
	return nodes.TypeName(r.Msg)
}

func (b *LamportBuilder) send(r *sim.Record, m nodes.Message) {
	inside := b.opts.To == 0 || r.At <= b.opts.To
	switch {
	case r.At < b.opts.From:
		// Kept only to learn when it was sent, should it arrive in the
		// window; forgotten when it ends.
		b.flying[r.MsgID] = &lamportInflight{from: r.Node, to: r.Peer, sent: r.At, event: r.Event, copies: 1}
	case inside && b.wanted(r.Node, r.Peer):
		if !b.admit(r.At) {
			return
		}
		b.flying[r.MsgID] = &lamportInflight{from: r.Node, to: r.Peer, typ: nodes.TypeName(r.Msg),
			label: b.label(r, m), sent: r.At, event: r.Event, copies: 1, drawn: true}
	}
}

// arrive ends one copy of message r.MsgID. r.Node is the receiver, except
// for a message lost at send, where it is the sender.
func (b *LamportBuilder) arrive(r *sim.Record, m nodes.Message, end ArrowEnd) {
	f := b.flying[r.MsgID]
	if f == nil {
		return // filtered out, or left out past the bound
	}
	f.ended++
	if f.ended >= f.copies || end == EndLost {
		delete(b.flying, r.MsgID)
	}
	if !f.drawn {
		// Sent before the window: drawn, clipped at the top edge, if it
		// ends in the window.
		if !b.inWindow(r.At) || !b.wanted(f.from, f.to) || !b.admit(r.At) {
			return
		}
		f.typ, f.label, f.drawn = nodes.TypeName(r.Msg), b.label(r, m), true
		if f.ended < f.copies {
			b.flying[r.MsgID] = f // its other copy is drawn too, if it comes
		}
	}
	a := Arrow{MsgID: r.MsgID, Type: f.typ, Label: f.label, From: f.from, To: f.to, Sent: f.sent, At: r.At, End: end, Dup: f.copies > 1}
	b.lane(a.From)
	b.lane(a.To)
	b.arrows = append(b.arrows, a)
}

func (b *LamportBuilder) lane(id nodes.NodeID) {
	if !b.server[id] {
		b.clients[id] = true
	}
}

// mark keeps m if it falls in the window, up to the bound.
func (b *LamportBuilder) mark(m LaneMark) {
	if !b.inWindow(m.At) {
		return
	}
	if len(b.marks) >= lamportMaxMarks {
		b.omittedMarks++
		return
	}
	b.marks = append(b.marks, m)
}

// AddMark adds a mark learned outside the trace (e.g. the elections a run
// recorded), if it falls in the window.
func (b *LamportBuilder) AddMark(m LaneMark) { b.mark(m) }

// noteDown keeps the part of a down interval that overlaps the window.
func (b *LamportBuilder) noteDown(id nodes.NodeID, from, to time.Duration) {
	b.downIn[id] = append(b.downIn[id], LaneSpan{from, to})
}

// Diagram returns the diagram so far. end is the virtual time the run
// ended: the window's end when To is 0, and where messages still in flight
// stop. It may be called more than once.
func (b *LamportBuilder) Diagram(end time.Duration) *LamportDiagram {
	end = max(end, b.last)
	d := &LamportDiagram{Title: b.opts.Title, From: b.opts.From, To: b.opts.To, Messages: b.messages,
		Omitted: b.omitted, Truncated: b.cut, MaxMessages: b.opts.MaxMessages, OmittedMarks: b.omittedMarks}
	if d.To == 0 || d.To > end {
		d.To = end
	}
	if b.cut {
		d.To = min(d.To, b.cutAt)
	}
	d.From = min(d.From, d.To)
	ids := make([]uint64, 0, len(b.flying))
	for id, f := range b.flying { //det:ordered sorted below
		if f.drawn {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	d.Arrows = slices.Clone(b.arrows)
	for _, id := range ids {
		f := b.flying[id]
		b.lane(f.from)
		b.lane(f.to)
		d.Arrows = append(d.Arrows, Arrow{MsgID: id, Type: f.typ, Label: f.label, From: f.from, To: f.to, Sent: f.sent,
			At: end, End: EndInFlight, Dup: f.copies > 1})
	}
	slices.SortStableFunc(d.Arrows, func(x, y Arrow) int {
		return cmp.Or(cmp.Compare(x.Sent, y.Sent), cmp.Compare(x.MsgID, y.MsgID), cmp.Compare(x.At, y.At))
	})
	d.Lanes = b.lanes(d)
	shown := map[nodes.NodeID]bool{}
	for _, l := range d.Lanes {
		shown[l.ID] = true
	}
	for _, m := range b.marks {
		if (m.Node == "" || shown[m.Node]) && m.At <= d.To {
			d.Marks = append(d.Marks, m)
		}
	}
	return d
}

// lanes orders the lanes: servers as given, then clients by number.
func (b *LamportBuilder) lanes(d *LamportDiagram) []Lane {
	var out []Lane
	for _, id := range b.opts.Servers {
		out = append(out, Lane{ID: id})
	}
	clients := make([]nodes.NodeID, 0, len(b.clients))
	for id := range b.clients { //det:ordered sorted below
		clients = append(clients, id)
	}
	slices.SortFunc(clients, lamportNodeOrder)
	for _, id := range clients {
		out = append(out, Lane{ID: id, Client: true})
	}
	for i := range out {
		id := out[i].ID
		spans := slices.Clone(b.downIn[id])
		if start, ok := b.down[id]; ok {
			spans = append(spans, LaneSpan{start, d.To})
		}
		for _, s := range spans {
			if s.To >= d.From && s.From <= d.To {
				out[i].Down = append(out[i].Down, LaneSpan{max(s.From, d.From), min(s.To, d.To)})
			}
		}
	}
	return out
}

// lamportNodeOrder orders "c2" before "c10": by prefix, then by number.
func lamportNodeOrder(a, b nodes.NodeID) int {
	pa, na := lamportSplitID(string(a))
	pb, nb := lamportSplitID(string(b))
	return cmp.Or(strings.Compare(pa, pb), cmp.Compare(na, nb), strings.Compare(string(a), string(b)))
}

func lamportSplitID(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n := 0
	for _, c := range s[i:] {
		if n > 1e8 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return s[:i], n
}
