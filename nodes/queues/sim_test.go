package queues

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/sim"
)

// step is one scripted request of a driver: after pause wait, build the
// request (it may read the replies to earlier steps) and send it.
type step struct {
	name  string
	wait  time.Duration
	build func(d *driver) *Request
}

// gotReply is one reply a driver received.
type gotReply struct {
	from nodes.NodeID
	step string
	r    *Reply
}

const (
	driverID      = nodes.NodeID("d1")
	drvTimerGo    = "go"
	drvTimerRetry = "retry"
	drvTimerPoll  = "poll"
	drvBackoff    = 20 * time.Millisecond
	drvTimeout    = 500 * time.Millisecond
)

// driver is a test client: it sends its steps one at a time to target,
// follows nodes.ServiceNotLeader redirects, retries after drvBackoff on
// nodes.ServiceNoQuorum and nodes.ServiceBusy (and after drvTimeout without an
// answer), and records every reply. With no step left it polls, so a test
// may append steps between runs.
type driver struct {
	target nodes.NodeID
	steps  []step

	env    nodes.Env
	next   int // the step in progress, or the next one to start
	busy   bool
	req    *Request
	client queue.ClientID
	seq    uint64
	sent   uint64
	timer  nodes.TimerID

	results map[string]*Reply // the final reply of each step
	replies []gotReply        // every reply, in arrival order
}

func newDriver(target nodes.NodeID, steps ...step) *driver {
	return &driver{target: target, steps: steps, results: map[string]*Reply{}}
}

func (d *driver) Start(env nodes.Env) {
	d.env = env
	d.schedule()
}

func (d *driver) schedule() {
	if d.next < len(d.steps) {
		d.env.SetTimer(d.steps[d.next].wait, nodes.Timer{Kind: drvTimerGo})
		return
	}
	d.env.SetTimer(10*time.Millisecond, nodes.Timer{Kind: drvTimerPoll})
}

func (d *driver) Fire(t nodes.Timer) {
	switch t.Kind {
	case drvTimerPoll:
		d.schedule()
	case drvTimerGo:
		s := d.steps[d.next]
		d.req = s.build(d)
		d.client, d.seq = "", 0
		if cmd, err := queue.DecodeCommand(d.req.Cmd); err == nil {
			d.client, d.seq = clientOf(cmd)
		}
		d.busy = true
		d.send()
	case drvTimerRetry:
		if d.busy && t.Arg == d.sent {
			d.send()
		}
	}
}

func (d *driver) send() {
	d.sent++
	d.env.Send(d.target, d.req)
	d.env.CancelTimer(d.timer)
	d.timer = d.env.SetTimer(drvTimeout, nodes.Timer{Kind: drvTimerRetry, Arg: d.sent})
}

func (d *driver) retryIn(after time.Duration) {
	d.env.CancelTimer(d.timer)
	d.timer = d.env.SetTimer(after, nodes.Timer{Kind: drvTimerRetry, Arg: d.sent})
}

func (d *driver) Receive(from nodes.NodeID, m nodes.Message) {
	r, ok := m.(*Reply)
	if !ok {
		return
	}
	name := ""
	if d.busy {
		name = d.steps[d.next].name
	}
	d.replies = append(d.replies, gotReply{from: from, step: name, r: r})
	if !d.busy || r.Client != d.client || r.Seq != d.seq {
		return // an answer to an earlier try
	}
	switch r.Service {
	case nodes.ServiceNotLeader:
		if r.Leader != "" {
			d.target = r.Leader
		}
		d.retryIn(time.Millisecond)
		return
	case nodes.ServiceNoQuorum, nodes.ServiceBusy:
		d.retryIn(drvBackoff)
		return
	}
	d.results[name] = r
	d.busy = false
	d.next++
	d.env.CancelTimer(d.timer)
	d.schedule()
}

func (d *driver) done() bool { return !d.busy && d.next == len(d.steps) }

// result returns the final reply of step name.
func (d *driver) result(name string) *Reply {
	r := d.results[name]
	if r == nil {
		panic(fmt.Sprintf("driver: step %q has no reply yet", name))
	}
	return r
}

// Request builders.

func enqueueReq(client queue.ClientID, seq uint64, q, payload string) func(*driver) *Request {
	return func(*driver) *Request {
		return &Request{Queue: q, Cmd: queue.Enqueue{Client: client, Seq: seq, Queue: q, Payload: []byte(payload)}.Encode()}
	}
}

func dequeueReq(client queue.ClientID, seq uint64, q string, vis time.Duration) func(*driver) *Request {
	return func(*driver) *Request {
		return &Request{Queue: q, Cmd: queue.Dequeue{Client: client, Seq: seq, Queue: q, Visibility: vis}.Encode()}
	}
}

// ackReq acks the delivery of step deq's reply.
func ackReq(client queue.ClientID, seq uint64, q, deq string) func(*driver) *Request {
	return func(d *driver) *Request {
		return &Request{Queue: q, Cmd: queue.Ack{Client: client, Seq: seq, Receipt: d.result(deq).Result.Receipt}.Encode()}
	}
}

func rawReq(q string, cmd queue.Command) func(*driver) *Request {
	return func(*driver) *Request { return &Request{Queue: q, Cmd: cmd.Encode()} }
}

// Clusters.

func serverIDs(n int) []nodes.NodeID {
	ids := make([]nodes.NodeID, n)
	for i := range ids {
		ids[i] = nodes.NodeID(fmt.Sprintf("n%d", i+1))
	}
	return ids
}

func newQueueWorld(t *testing.T, seed sim.Seed, servers []nodes.NodeID, cfg Config, d *driver) *sim.World {
	t.Helper()
	cfg.Servers = servers
	newServer, err := NewServer(cfg)
	require.NoError(t, err)
	w, err := sim.New(sim.Config{
		Seed:    seed,
		Nodes:   append(slices.Clone(servers), driverID),
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 2*time.Millisecond)},
		Disk:    sim.DiskConfig{WriteLatency: sim.Constant(10 * time.Microsecond), SyncLatency: sim.Constant(200 * time.Microsecond)},
		Factory: func(id nodes.NodeID) nodes.Node {
			if id == driverID {
				return d
			}
			return newServer(id)
		},
		WireCheck: true,
	})
	require.NoError(t, err)
	return w
}

// runDriver runs w until d has answers to all its steps, at most for
// limit of virtual time.
func runDriver(t *testing.T, w *sim.World, d *driver, limit time.Duration) {
	t.Helper()
	end := w.Now() + limit
	for !d.done() && w.Now() < end {
		require.NoError(t, w.Run(w.Now()+10*time.Millisecond))
	}
	if !d.done() {
		last := ""
		if n := len(d.replies); n > 0 {
			last = d.replies[n-1].r.String()
		}
		t.Fatalf("driver stuck at step %d/%d (%s) at t=%v; last reply: %s", d.next, len(d.steps), d.steps[d.next].name, w.Now(), last)
	}
}

func server(t *testing.T, w *sim.World, id nodes.NodeID) *Server {
	t.Helper()
	s, ok := w.Node(id).(*Server)
	require.True(t, ok, "%s is not an up queue server", id)
	return s
}

func requireBadRequest(t *testing.T, r *Reply, wants ...string) {
	t.Helper()
	require.Equal(t, nodes.ServiceBadRequest, r.Service, "%s", r)
	for _, s := range wants {
		require.Contains(t, r.Detail, s)
	}
}

func requireRejected(t *testing.T, r *Reply, sentinel error) {
	t.Helper()
	require.Equal(t, nodes.ServiceOK, r.Service, "%s", r)
	require.Equal(t, queue.StatusRejected, r.Result.Status, "%s", r)
	require.ErrorIs(t, r.Result.Err, sentinel)
}

func requireOK(t *testing.T, r *Reply) queue.Result {
	t.Helper()
	require.Equal(t, nodes.ServiceOK, r.Service, "%s", r)
	require.Equal(t, queue.StatusOK, r.Result.Status, "%s", r)
	require.NoError(t, r.Result.Err)
	return r.Result
}

// TestBadInputs sends every kind of bad request of issue 6: each gets a
// clear error, and nothing is lost.
func TestBadInputs(t *testing.T) {
	for _, seed := range []sim.Seed{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkBadInputs(t, seed) })
	}
}

func checkBadInputs(t *testing.T, seed sim.Seed) {
	const q, vq = "orders", "vis"
	long := strings.Repeat("q", queue.MaxNameBytes+1)
	maxPayload := strings.Repeat("m", 1024)
	d := newDriver("n1",
		step{name: "m1", build: enqueueReq("good", 1, q, "m1")},
		step{name: "m2", build: enqueueReq("good", 2, q, "m2")},

		step{name: "empty name", build: enqueueReq("bad", 1, "", "x")},
		step{name: "empty name dequeue", build: dequeueReq("bad", 2, "", time.Second)},
		step{name: "long name", build: enqueueReq("bad", 3, long, "x")},
		step{name: "name mismatch", build: func(*driver) *Request {
			return &Request{Queue: q, Cmd: queue.Enqueue{Client: "bad", Seq: 4, Queue: "other", Payload: []byte("x")}.Encode()}
		}},
		step{name: "big payload", build: enqueueReq("bad", 5, q, strings.Repeat("p", 2048))},
		step{name: "undecodable", build: func(*driver) *Request { return &Request{Queue: q, Cmd: []byte{0xff, 1, 2}} }},
		step{name: "not a client command", build: rawReq(q, queue.Tick{Now: 1})},
		step{name: "unknown ack", build: rawReq(q, queue.Ack{Client: "bad", Seq: 6, Receipt: 1 << 40})},
		step{name: "unknown nack", build: rawReq(q, queue.Nack{Client: "bad", Seq: 7, Receipt: 12345})},
		step{name: "max payload", build: enqueueReq("good", 3, q, maxPayload)},

		// A redelivered message: A's receipt is superseded by B's.
		step{name: "v1", build: enqueueReq("good", 4, vq, "v1")},
		step{name: "A dequeue", build: dequeueReq("A", 1, vq, 100*time.Millisecond)},
		step{name: "B dequeue", wait: 500 * time.Millisecond, build: dequeueReq("B", 1, vq, 10*time.Second)},
		step{name: "A late ack", build: ackReq("A", 2, vq, "A dequeue")},
		step{name: "B ack", build: ackReq("B", 2, vq, "B dequeue")},
		step{name: "vis empty", build: dequeueReq("C", 1, vq, time.Second)},

		// After all that, the queue works and holds every good message.
		step{name: "m3", build: enqueueReq("good", 5, q, "m3")},
		step{name: "get 1", build: dequeueReq("good", 6, q, 10*time.Second)},
		step{name: "ack 1", build: ackReq("good", 7, q, "get 1")},
		step{name: "get 2", build: dequeueReq("good", 8, q, 10*time.Second)},
		step{name: "ack 2", build: ackReq("good", 9, q, "get 2")},
		step{name: "get 3", build: dequeueReq("good", 10, q, 10*time.Second)},
		step{name: "ack 3", build: ackReq("good", 11, q, "get 3")},
		step{name: "get 4", build: dequeueReq("good", 12, q, 10*time.Second)},
		step{name: "ack 4", build: ackReq("good", 13, q, "get 4")},
		step{name: "orders empty", build: dequeueReq("good", 14, q, 10*time.Second)},
	)
	w := newQueueWorld(t, seed, serverIDs(3), Config{Queue: queue.Config{MaxPayload: 1024}}, d)
	runDriver(t, w, d, 10*time.Second)
	t.Logf("done at t=%v after %d replies, %d events", w.Now(), len(d.replies), w.Stats().Events)

	r := d.result("empty name")
	requireBadRequest(t, r, "Request.Queue", "invalid queue name", "0 bytes")
	require.Equal(t, queue.ClientID("bad"), r.Client)
	require.Equal(t, uint64(1), r.Seq)
	requireBadRequest(t, d.result("empty name dequeue"), "Request.Queue")
	requireBadRequest(t, d.result("long name"), "Request.Queue", "invalid queue name", "256 bytes", "want 1..255 bytes")
	require.Less(t, len(d.result("long name").Detail), 200, "the long name is not echoed whole")
	requireBadRequest(t, d.result("name mismatch"), "Enqueue.Queue", "Request.Queue")
	requireBadRequest(t, d.result("big payload"), "Payload", "2048 bytes", "payload too large", "max 1024")
	requireBadRequest(t, d.result("undecodable"), "Request.Cmd")
	requireBadRequest(t, d.result("not a client command"), "Request.Cmd", "not a client command")
	requireRejected(t, d.result("unknown ack"), queue.ErrUnknownReceipt)
	require.Contains(t, d.result("unknown ack").Result.Err.Error(), "Receipt")
	requireRejected(t, d.result("unknown nack"), queue.ErrUnknownReceipt)

	// The redelivery.
	a := requireOK(t, d.result("A dequeue"))
	b := requireOK(t, d.result("B dequeue"))
	require.Equal(t, requireOK(t, d.result("v1")).ID, a.ID)
	require.Equal(t, a.ID, b.ID, "B gets the message A did not ack in time")
	require.Equal(t, uint32(1), a.Deliveries)
	require.Equal(t, uint32(2), b.Deliveries)
	require.NotEqual(t, a.Receipt, b.Receipt)
	require.Equal(t, "v1", string(b.Payload))
	requireRejected(t, d.result("A late ack"), queue.ErrUnknownReceipt)
	requireOK(t, d.result("B ack"))
	require.Equal(t, queue.StatusEmpty, d.result("vis empty").Result.Status)
	require.Equal(t, nodes.ServiceOK, d.result("vis empty").Service)

	// Nothing lost, nothing added, FIFO.
	var ids []uint64
	for _, n := range []string{"m1", "m2", "max payload", "m3"} {
		ids = append(ids, requireOK(t, d.result(n)).ID)
	}
	for i, want := range []string{"m1", "m2", maxPayload, "m3"} {
		got := requireOK(t, d.result(fmt.Sprintf("get %d", i+1)))
		require.Equal(t, ids[i], got.ID)
		require.Equal(t, want, string(got.Payload))
		require.Equal(t, uint32(1), got.Deliveries)
		requireOK(t, d.result(fmt.Sprintf("ack %d", i+1)))
	}
	empty := d.result("orders empty")
	require.Equal(t, nodes.ServiceOK, empty.Service)
	require.Equal(t, queue.StatusEmpty, empty.Result.Status)

	// Every server that refused a request counted it, and only bad
	// requests were refused.
	var rejected uint64
	for _, id := range serverIDs(3) {
		rejected += server(t, w, id).Stats.Rejected
	}
	require.Equal(t, uint64(7), rejected)
	for _, gr := range d.replies {
		if gr.r.Service == nodes.ServiceBadRequest {
			require.True(t, strings.Contains(gr.step, "name") || strings.Contains(gr.step, "payload") ||
				strings.Contains(gr.step, "undecodable") || strings.Contains(gr.step, "client command"), gr.step)
		}
	}
}

// TestOutsiderRedirectsToOwner: a node outside a queue's replica set does
// not host it and redirects clients to the queue's owner.
func TestOutsiderRedirectsToOwner(t *testing.T) { checkOutsider(t, 7) }

func checkOutsider(t *testing.T, seed sim.Seed) {
	servers := serverIDs(4)
	p, err := newPlacement(hashring.DefaultVNodes, hashring.MD5, 3, servers)
	require.NoError(t, err)
	var name string
	var outsider nodes.NodeID
	for i := 0; name == ""; i++ {
		n := fmt.Sprintf("queue-%d", i)
		_, pref := p.current(n)
		for _, id := range servers {
			if !slices.Contains(pref, id) {
				name, outsider = n, id
				break
			}
		}
	}
	d := newDriver(outsider,
		step{name: "enqueue", build: enqueueReq("c", 1, name, "hello")},
		step{name: "dlq dequeue", build: func(d *driver) *Request {
			d.target = outsider // ask the outsider again
			return dequeueReq("c", 2, name+queue.DLQSuffix, time.Second)(d)
		}},
		step{name: "dequeue", build: func(d *driver) *Request {
			d.target = outsider
			return dequeueReq("c", 3, name, time.Second)(d)
		}},
	)
	w := newQueueWorld(t, seed, servers, Config{Replicas: 3}, d)
	runDriver(t, w, d, 5*time.Second)

	out := server(t, w, outsider)
	g, pref := out.Placement(name)
	require.Len(t, pref, 3)
	require.NotContains(t, pref, outsider)
	for _, s := range []string{"enqueue", "dlq dequeue", "dequeue"} {
		var first *gotReply
		for i := range d.replies {
			if d.replies[i].step == s {
				first = &d.replies[i]
				break
			}
		}
		require.NotNil(t, first, s)
		require.Equal(t, outsider, first.from)
		require.Equal(t, nodes.ServiceNotLeader, first.r.Service, "%s: %s", s, first.r)
		require.Equal(t, pref[0], first.r.Leader, "%s: redirected to the owner", s)
	}
	res := requireOK(t, d.result("enqueue"))
	require.Equal(t, queue.StatusEmpty, d.result("dlq dequeue").Result.Status)
	got := requireOK(t, d.result("dequeue"))
	require.Equal(t, res.ID, got.ID)
	require.Equal(t, "hello", string(got.Payload))

	// Only the replica set hosts the group.
	require.NotContains(t, out.Groups(), g)
	require.Nil(t, out.Group(g))
	for _, id := range pref {
		rep := server(t, w, id).Group(g)
		require.NotNil(t, rep, "%s hosts %s", id, g)
		require.Equal(t, sortedSet(pref), rep.Peers())
	}
}

// replicaState is what recovery must reproduce: each replica's state
// machine snapshot.
func replicaStates(t *testing.T, w *sim.World, servers []nodes.NodeID, g GroupID) map[nodes.NodeID][]byte {
	t.Helper()
	out := map[nodes.NodeID][]byte{}
	for _, id := range servers {
		rep := server(t, w, id).Group(g)
		require.NotNil(t, rep, "%s lost its replica of %s", id, g)
		out[id] = rep.Manager().Snapshot()
	}
	return out
}

// settle runs w until every replica of g has applied every entry of its
// log and all logs end at the same index.
func settle(t *testing.T, w *sim.World, servers []nodes.NodeID, g GroupID) {
	t.Helper()
	end := w.Now() + 3*time.Second
	for w.Now() < end {
		require.NoError(t, w.Run(w.Now()+20*time.Millisecond))
		last, ok := uint64(0), true
		for i, id := range servers {
			s, _ := w.Node(id).(*Server)
			if s == nil || s.Group(g) == nil {
				ok = false
				break
			}
			rep := s.Group(g)
			st := rep.Raft().Status()
			if i == 0 {
				last = st.LastIndex
			}
			if st.LastIndex != last || st.Commit != st.LastIndex || rep.Applied() != st.Commit {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	t.Fatalf("group %s did not settle by t=%v", g, w.Now())
}

func crashAndRestart(t *testing.T, w *sim.World, servers []nodes.NodeID) {
	t.Helper()
	for _, id := range servers {
		require.NoError(t, w.Crash(id))
	}
	for _, id := range servers {
		require.NoError(t, w.Restart(id))
	}
}

// TestRecovery: acknowledged messages survive a crash of every server,
// in order, and recovering twice gives the same state.
func TestRecovery(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"log only", Config{}},
		{"with snapshots", Config{SnapshotEvery: 4}},
	} {
		t.Run(c.name, func(t *testing.T) { checkRecovery(t, 3, c.cfg) })
	}
}

func checkRecovery(t *testing.T, seed sim.Seed, cfg Config) {
	const q, n = "jobs", 20
	servers := serverIDs(3)
	d := newDriver("n2")
	for i := range n {
		d.steps = append(d.steps, step{name: fmt.Sprintf("enq %d", i), build: enqueueReq("p", uint64(i+1), q, fmt.Sprintf("job-%02d", i))})
	}
	w := newQueueWorld(t, seed, servers, cfg, d)
	runDriver(t, w, d, 5*time.Second)
	ids := make([]uint64, n)
	for i := range n {
		ids[i] = requireOK(t, d.result(fmt.Sprintf("enq %d", i))).ID
	}
	require.True(t, slices.IsSorted(ids))

	crashAndRestart(t, w, servers)
	for i := range n {
		get := fmt.Sprintf("get %d", i)
		d.steps = append(d.steps,
			step{name: get, build: dequeueReq("c", uint64(2*i+1), q, 10*time.Second)},
			step{name: fmt.Sprintf("ack %d", i), build: ackReq("c", uint64(2*i+2), q, get)})
	}
	d.steps = append(d.steps, step{name: "empty", build: dequeueReq("c", 2*n+1, q, time.Second)})
	runDriver(t, w, d, 10*time.Second)
	for i := range n {
		got := requireOK(t, d.result(fmt.Sprintf("get %d", i)))
		require.Equal(t, ids[i], got.ID, "message %d", i)
		require.Equal(t, fmt.Sprintf("job-%02d", i), string(got.Payload))
		require.Equal(t, uint32(1), got.Deliveries)
		requireOK(t, d.result(fmt.Sprintf("ack %d", i)))
	}
	require.Equal(t, queue.StatusEmpty, d.result("empty").Result.Status)

	// Recovery is idempotent: restarting again, with no request
	// in between, rebuilds the very same state on every replica.
	g, _ := server(t, w, servers[0]).Placement(q)
	settle(t, w, servers, g)
	before := replicaStates(t, w, servers, g)
	for _, id := range servers[1:] {
		require.Equal(t, before[servers[0]], before[id], "replicas %s and %s differ", servers[0], id)
	}
	crashAndRestart(t, w, servers)
	require.NoError(t, w.Run(w.Now()+time.Second))
	settle(t, w, servers, g)
	after := replicaStates(t, w, servers, g)
	for _, id := range servers {
		require.True(t, bytes.Equal(before[id], after[id]), "%s: state after a second recovery differs", id)
		rep := server(t, w, id).Group(g)
		require.Equal(t, uint64(0), rep.Manager().Stats().Ready)
		if cfg.SnapshotEvery > 0 {
			require.Positive(t, rep.Raft().Snapshot().Index, "%s recovered from a snapshot", id)
		}
	}
}

// TestQueueNamedDLQSurvivesRestart: the queue ".dlq" is a valid name whose
// placement key is empty, so its group's log key is "<epoch>/". Recovery
// must read that key back (it used to panic in parseGroupKey, so one
// enqueue kept every replica of the group from restarting).
func TestQueueNamedDLQSurvivesRestart(t *testing.T) {
	const q = ".dlq"
	require.NoError(t, ValidateQueueName("Request.Queue", q))
	servers := serverIDs(3)
	d := newDriver("n1", step{name: "enq", build: enqueueReq("c", 1, q, "x")})
	w := newQueueWorld(t, 5, servers, Config{}, d)
	runDriver(t, w, d, 5*time.Second)
	id := requireOK(t, d.result("enq")).ID
	g, _ := server(t, w, "n1").Placement(q)
	require.Equal(t, GroupID{Queue: "", Epoch: 0}, g)

	crashAndRestart(t, w, servers)
	d.steps = append(d.steps, step{name: "get", build: dequeueReq("c", 2, q, time.Second)})
	runDriver(t, w, d, 5*time.Second)
	got := requireOK(t, d.result("get"))
	require.Equal(t, id, got.ID)
	require.Equal(t, "x", string(got.Payload))
}
