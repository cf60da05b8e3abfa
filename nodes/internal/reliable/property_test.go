package reliable

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The property test runs two or three endpoints over a deterministic
// network driven by rapid's choices: packets (encoded, as on a real wire)
// wait in a bag from which any one may be delivered, duplicated or lost;
// a virtual clock advances by random steps, with Ticks; endpoints restart
// now and then with a greater epoch. Then the network heals (no loss,
// every packet delivered) until all is quiet.
//
// Every payload names the incarnation that sent it and its place in that
// incarnation's stream to the destination node. The sender's stream to a
// node is cut into segments at each reset the sender reports for that
// node; a segment is what the sender meant for one incarnation of the
// destination. Checked throughout: a receiver incarnation delivers, from
// a sender incarnation, a prefix of exactly one segment, in order, with
// no gap or duplicate, and no other receiver incarnation delivers from
// that segment. Checked after heal: nothing is pending anywhere, and the
// last segment of every stream was delivered whole by the incarnation its
// sender ended up knowing.

const propRTO = 10 * time.Millisecond

// incarnation names one incarnation of a node.
type incarnation struct {
	id    NodeID
	epoch uint64
}

// streamKey is a sender incarnation's stream to a node, across the
// node's incarnations.
type streamKey struct {
	from incarnation
	to   NodeID
}

// pairKey is the stream between one sender and one receiver incarnation.
type pairKey struct{ from, to incarnation }

// segKey is one segment of a stream.
type segKey struct {
	stream streamKey
	seg    int
}

// sent is where a payload was sent.
type sent struct {
	stream   streamKey
	seg, pos int
}

type propNode struct {
	inc incarnation
	ep  *Endpoint
}

type world struct {
	t     *rapid.T
	cfg   Config // Self and Epoch are filled per node
	nodes []*propNode
	net   [][]byte
	now   time.Duration

	// segments lists, per stream, the payloads of each segment.
	segments map[streamKey][][]string
	// payloads maps every accepted payload to where it was sent.
	payloads map[string]sent
	// pairs maps a sender and receiver incarnation to the segment the
	// receiver delivers from and how many payloads it delivered.
	pairs map[pairKey]*pairState
	// owner maps a segment to the receiver incarnation delivering it.
	owner    map[segKey]incarnation
	counters map[streamKey]int
}

type pairState struct{ seg, n int }

func (w *world) node(id NodeID) *propNode {
	for _, n := range w.nodes {
		if n.inc.id == id {
			return n
		}
	}
	w.t.Fatalf("no node %q", id)
	return nil
}

func (w *world) boot(n *propNode) {
	cfg := w.cfg
	cfg.Self, cfg.Epoch = n.inc.id, n.inc.epoch
	ep, err := New(cfg)
	if err != nil {
		w.t.Fatalf("New(%+v): %v", cfg, err)
	}
	n.ep = ep
}

func (w *world) transmit(pkts []Packet) {
	for _, pk := range pkts {
		w.net = append(w.net, EncodePacket(pk))
	}
}

func (w *world) send(from, to *propNode) {
	sk := streamKey{from.inc, to.inc.id}
	payload := fmt.Sprintf("%s/%d>%s#%d", from.inc.id, from.inc.epoch, to.inc.id, w.counters[sk])
	out, err := from.ep.Send(to.inc.id, []byte(payload), w.now)
	if errors.Is(err, ErrBackpressure) {
		return
	}
	if err != nil {
		w.t.Fatalf("send %s: %v", payload, err)
	}
	w.counters[sk]++
	if len(w.segments[sk]) == 0 {
		w.segments[sk] = [][]string{nil}
	}
	last := len(w.segments[sk]) - 1
	w.payloads[payload] = sent{sk, last, len(w.segments[sk][last])}
	w.segments[sk][last] = append(w.segments[sk][last], payload)
	w.transmit(out)
}

func (w *world) deliver(b []byte) {
	pk, err := DecodePacket(b)
	if err != nil {
		w.t.Fatalf("decode %x: %v", b, err)
	}
	n := w.node(pk.To)
	before := n.ep.PeerEpoch(pk.From)
	del, out, reset := n.ep.Receive(pk, w.now)
	after := n.ep.PeerEpoch(pk.From)
	if after < before {
		w.t.Fatalf("%v: epoch of %s went from %d to %d", n.inc, pk.From, before, after)
	}
	if reset != (before != 0 && after > before) {
		w.t.Fatalf("%v: reset %v, yet epoch of %s went from %d to %d", n.inc, reset, pk.From, before, after)
	}
	if reset {
		sk := streamKey{n.inc, pk.From}
		if len(w.segments[sk]) > 0 {
			w.segments[sk] = append(w.segments[sk], nil)
		}
	}
	for _, d := range del {
		w.delivered(n, d, after)
	}
	w.transmit(out)
}

func (w *world) delivered(n *propNode, d Delivery, peerEpoch uint64) {
	payload := string(d.Payload)
	s, ok := w.payloads[payload]
	if !ok {
		w.t.Fatalf("%v delivered %q, never sent", n.inc, payload)
	}
	if s.stream.to != n.inc.id || s.stream.from.id != d.From {
		w.t.Fatalf("%v delivered %q from %s", n.inc, payload, d.From)
	}
	if s.stream.from.epoch != peerEpoch {
		w.t.Fatalf("%v delivered %q while it knows %s at epoch %d", n.inc, payload, d.From, peerEpoch)
	}
	sg := segKey{s.stream, s.seg}
	if o, ok := w.owner[sg]; ok && o != n.inc {
		w.t.Fatalf("%v delivered %q of a segment %v delivers", n.inc, payload, o)
	}
	w.owner[sg] = n.inc
	pk := pairKey{s.stream.from, n.inc}
	ps := w.pairs[pk]
	if ps == nil {
		ps = &pairState{seg: s.seg}
		w.pairs[pk] = ps
	}
	if ps.seg != s.seg || ps.n != s.pos {
		w.t.Fatalf("%v delivered %q (segment %d, #%d) after %d of segment %d", n.inc, payload, s.seg, s.pos, ps.n, ps.seg)
	}
	ps.n++
}

func (w *world) tick() {
	for _, n := range w.nodes {
		d, ok := n.ep.Deadline()
		out := n.ep.Tick(w.now)
		if len(out) > 0 && (!ok || d > w.now) {
			w.t.Fatalf("%v: Tick at %v sent %d packets, yet Deadline said %v, %v", n.inc, w.now, len(out), d, ok)
		}
		w.transmit(out)
	}
}

func (w *world) pick(label string) int {
	return rapid.IntRange(0, len(w.net)-1).Draw(w.t, label)
}

func (w *world) remove(i int) []byte {
	b := w.net[i]
	w.net = append(w.net[:i], w.net[i+1:]...)
	return b
}

// heal delivers every packet, oldest first, and ticks until nothing is
// left to do.
func (w *world) heal() {
	for round := 0; ; round++ {
		if round > 1000 {
			w.t.Fatalf("not quiet after %d rounds: %d packets in the network", round, len(w.net))
		}
		for steps := 0; len(w.net) > 0; steps++ {
			if steps > 100000 {
				w.t.Fatalf("network never drains")
			}
			w.deliver(w.remove(0))
		}
		next, busy := time.Duration(0), false
		for _, n := range w.nodes {
			if d, ok := n.ep.Deadline(); ok && (!busy || d < next) {
				next, busy = d, true
			}
		}
		if !busy {
			return
		}
		w.now = max(w.now, next)
		w.tick()
	}
}

// checkHealed checks that every stream of a live incarnation ended
// delivered.
func (w *world) checkHealed() {
	for _, a := range w.nodes {
		for _, b := range w.nodes {
			if a == b {
				continue
			}
			if p := a.ep.Pending(b.inc.id); p != 0 {
				w.t.Fatalf("%v: %d payloads pending for %s after heal", a.inc, p, b.inc.id)
			}
			sk := streamKey{a.inc, b.inc.id}
			segs := w.segments[sk]
			if len(segs) == 0 {
				continue
			}
			last := segs[len(segs)-1]
			known := incarnation{b.inc.id, a.ep.PeerEpoch(b.inc.id)}
			if known.epoch == 0 {
				if len(last) > 0 {
					w.t.Fatalf("%v: %d payloads for %s, whose epoch it never learned", a.inc, len(last), b.inc.id)
				}
				continue
			}
			got := 0
			if ps := w.pairs[pairKey{a.inc, known}]; ps != nil && ps.seg == len(segs)-1 {
				got = ps.n
			}
			if got != len(last) {
				w.t.Fatalf("%v -> %v: %d of the %d payloads of the last segment delivered", a.inc, known, got, len(last))
			}
		}
	}
}

// shape is a family of runs of the property test.
type shape struct {
	name        string
	nodes       int
	maxRestarts int
	// weights of the actions: send, deliver, duplicate, lose, tick,
	// restart.
	weights [6]int
}

var shapes = []shape{
	{"two nodes", 2, 3, [6]int{30, 30, 7, 8, 22, 3}},
	{"three nodes", 3, 3, [6]int{30, 30, 7, 8, 22, 3}},
	{"three nodes, heavy loss", 3, 2, [6]int{30, 25, 10, 20, 13, 2}},
	{"three nodes, many restarts", 3, 10, [6]int{30, 30, 5, 5, 20, 10}},
}

func TestPropertyReliableStreams(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) { rapid.Check(t, sh.run) })
	}
}

// run is one run of the property test.
func (sh shape) run(t *rapid.T) {
	w := &world{
		t: t,
		cfg: Config{
			RTO:         propRTO,
			AckDelay:    rapid.SampledFrom([]time.Duration{0, propRTO / 4}).Draw(t, "ackDelay"),
			MaxInflight: rapid.IntRange(1, 4).Draw(t, "maxInflight"),
			MaxBuffered: rapid.IntRange(1, 4).Draw(t, "maxBuffered"),
			MaxQueued:   rapid.IntRange(1, 6).Draw(t, "maxQueued"),
		},
		segments: map[streamKey][][]string{},
		payloads: map[string]sent{},
		pairs:    map[pairKey]*pairState{},
		owner:    map[segKey]incarnation{},
		counters: map[streamKey]int{},
	}
	for i := range sh.nodes {
		n := &propNode{inc: incarnation{NodeID(fmt.Sprintf("n%d", i+1)), 1}}
		w.boot(n)
		w.nodes = append(w.nodes, n)
	}
	total := 0
	for _, wt := range sh.weights {
		total += wt
	}
	restarts := 0
	steps := rapid.IntRange(0, 400).Draw(t, "steps")
	for range steps {
		action := rapid.IntRange(0, total-1).Draw(t, "action")
		kind := 0
		for action >= sh.weights[kind] {
			action -= sh.weights[kind]
			kind++
		}
		switch {
		case kind == 0:
			from := rapid.IntRange(0, len(w.nodes)-1).Draw(t, "from")
			to := (from + rapid.IntRange(1, len(w.nodes)-1).Draw(t, "to")) % len(w.nodes)
			w.send(w.nodes[from], w.nodes[to])
		case kind == 1 && len(w.net) > 0:
			w.deliver(w.remove(w.pick("deliver")))
		case kind == 2 && len(w.net) > 0:
			w.deliver(w.net[w.pick("duplicate")])
		case kind == 3 && len(w.net) > 0:
			w.remove(w.pick("lose"))
		case kind == 4:
			w.now += rapid.SampledFrom([]time.Duration{0, propRTO / 3, propRTO, 3 * propRTO}).Draw(t, "advance")
			w.tick()
		case kind == 5 && restarts < sh.maxRestarts:
			restarts++
			n := w.nodes[rapid.IntRange(0, len(w.nodes)-1).Draw(t, "restart")]
			n.inc.epoch++
			w.boot(n)
		}
	}
	w.heal()
	w.checkHealed()
}
