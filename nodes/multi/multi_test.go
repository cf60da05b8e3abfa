package multi_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/multi"
	"github.com/distsync/distsync/nodes/wire"
)

// Test message types, in the range the registry leaves to tests.
const (
	typeA1 nodes.MessageType = 41
	typeA2 nodes.MessageType = 42
	typeB  nodes.MessageType = 43
	typeX  nodes.MessageType = 44 // claimed by no part
)

type msg struct{ t nodes.MessageType }

func (m msg) Type() nodes.MessageType { return m.t }
func (msg) Encode(*wire.Encoder)      {}

type timerSet struct {
	d  time.Duration
	t  nodes.Timer
	id nodes.TimerID
}

type sent struct {
	to nodes.NodeID
	m  nodes.Message
}

// fakeEnv records what the composite does with its Env. Its Disk is a
// memDisk, which accepts the names that the simulator's Disk and
// nodes/runtime.DirDisk accept: those of nodes.ValidateFileName.
type fakeEnv struct {
	id        nodes.NodeID
	peers     []nodes.NodeID
	now       time.Time
	rng       *rand.Rand
	disk      nodes.Disk
	timers    []timerSet
	cancelled []nodes.TimerID
	sent      []sent
	logs      []string
}

func newFakeEnv(t *testing.T, id nodes.NodeID) *fakeEnv {
	t.Helper()
	return &fakeEnv{
		id: id, peers: []nodes.NodeID{"n1", "n2"}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		rng: rand.New(rand.NewPCG(1, 2)), disk: newMemDisk(),
	}
}

func (e *fakeEnv) ID() nodes.NodeID                      { return e.id }
func (e *fakeEnv) Peers() []nodes.NodeID                 { return slices.Clone(e.peers) }
func (e *fakeEnv) Now() time.Time                        { return e.now }
func (e *fakeEnv) Send(to nodes.NodeID, m nodes.Message) { e.sent = append(e.sent, sent{to, m}) }
func (e *fakeEnv) CancelTimer(id nodes.TimerID)          { e.cancelled = append(e.cancelled, id) }
func (e *fakeEnv) Rand() *rand.Rand                      { return e.rng }
func (e *fakeEnv) Disk() nodes.Disk                      { return e.disk }
func (e *fakeEnv) Logf(format string, args ...any) {
	e.logs = append(e.logs, fmt.Sprintf(format, args...))
}
func (e *fakeEnv) SetTimer(d time.Duration, t nodes.Timer) nodes.TimerID {
	id := nodes.TimerID(len(e.timers) + 1)
	e.timers = append(e.timers, timerSet{d, t, id})
	return id
}

// recNode is a part that records what it is handed.
type recNode struct {
	id      nodes.NodeID // as given to its factory
	env     nodes.Env
	events  []string
	onStart func(env nodes.Env)
}

func (r *recNode) Start(env nodes.Env) {
	r.env = env
	r.events = append(r.events, "start")
	if r.onStart != nil {
		r.onStart(env)
	}
}

func (r *recNode) Receive(from nodes.NodeID, m nodes.Message) {
	r.events = append(r.events, fmt.Sprintf("recv %s %d", from, m.Type()))
}

func (r *recNode) Fire(t nodes.Timer) { r.events = append(r.events, "fire "+t.String()) }

func recFactory(built *[]*recNode, onStart func(nodes.Env)) nodes.Factory {
	return func(id nodes.NodeID) nodes.Node {
		r := &recNode{id: id, onStart: onStart}
		*built = append(*built, r)
		return r
	}
}

// twoParts is a composite of parts "a" (types A1, A2) and "b" (type B),
// started on a fake Env.
type twoParts struct {
	env  *fakeEnv
	node *multi.Node
	a, b *recNode
}

func newTwoParts(t *testing.T) *twoParts {
	t.Helper()
	var as, bs []*recNode
	f, err := multi.New(
		multi.Part{Name: "a", Factory: recFactory(&as, nil), Types: []nodes.MessageType{typeA1, typeA2}},
		multi.Part{Name: "b", Factory: recFactory(&bs, nil), Types: []nodes.MessageType{typeB}},
	)
	require.NoError(t, err)
	env := newFakeEnv(t, "n1")
	n := f("n1").(*multi.Node)
	require.Nil(t, n.Part("a"), "no part before Start")
	n.Start(env)
	require.Len(t, as, 1)
	require.Len(t, bs, 1)
	return &twoParts{env: env, node: n, a: as[0], b: bs[0]}
}

func TestMultiNewRejectsBadConfigs(t *testing.T) {
	f := func(nodes.NodeID) nodes.Node { return &recNode{} }
	types := func(ts ...nodes.MessageType) []nodes.MessageType { return ts }
	ok := multi.Part{Name: "locks", Factory: f, Types: types(typeA1)}
	many := make([]multi.Part, multi.MaxParts+1)
	for i := range many {
		many[i] = multi.Part{Name: fmt.Sprintf("p%d", i), Factory: f, Types: types(nodes.MessageType(100 + i))}
	}
	tests := []struct {
		name  string
		parts []multi.Part
		want  []string // substrings of the error
	}{
		{"no parts", nil, []string{"parts: 0 given"}},
		{"too many parts", many, []string{"parts: 17 given", "1..16"}},
		{"empty name", []multi.Part{{Factory: f, Types: types(typeA1)}}, []string{"parts[0].name", `""`}},
		{"upper case", []multi.Part{ok, {Name: "Queues", Factory: f, Types: types(typeB)}}, []string{"parts[1].name", `"Queues"`, "'Q'", "[a-z0-9-]"}},
		{"dot", []multi.Part{{Name: "a.b", Factory: f, Types: types(typeA1)}}, []string{"parts[0].name", `"a.b"`, "'.'"}},
		{"slash", []multi.Part{{Name: "a/b", Factory: f, Types: types(typeA1)}}, []string{"parts[0].name", `"a/b"`, "'/'"}},
		{"underscore", []multi.Part{{Name: "a_b", Factory: f, Types: types(typeA1)}}, []string{"parts[0].name", "'_'"}},
		{"too long", []multi.Part{{Name: strings.Repeat("x", 33), Factory: f, Types: types(typeA1)}}, []string{"parts[0].name", "33 bytes", "1..32"}},
		{"duplicate name", []multi.Part{ok, {Name: "locks", Factory: f, Types: types(typeB)}}, []string{"parts[1].name", `"locks"`, "parts[0]"}},
		{"nil factory", []multi.Part{ok, {Name: "caches", Types: types(typeB)}}, []string{"parts[1].factory", "nil", `"caches"`}},
		{"no types", []multi.Part{{Name: "caches", Factory: f}}, []string{"parts[0].types", "empty", `"caches"`}},
		{"type zero", []multi.Part{{Name: "caches", Factory: f, Types: types(typeB, 0)}}, []string{"parts[0].types[1]", "type 0", "out of range"}},
		{"type too big", []multi.Part{{Name: "caches", Factory: f, Types: types(nodes.MaxMessageType)}}, []string{"parts[0].types[0]", "type 4096"}},
		{"type twice in one part", []multi.Part{{Name: "caches", Factory: f, Types: types(typeB, typeB)}}, []string{"parts[0].types[1]", "type 43", `claimed by parts[0] "caches"`}},
		{"type in two parts", []multi.Part{ok, {Name: "caches", Factory: f, Types: types(typeB, typeA1)}}, []string{"parts[1].types[1]", "type 41", `part "caches"`, `claimed by parts[0] "locks"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := multi.New(tc.parts...)
			require.Error(t, err)
			require.Nil(t, got)
			require.True(t, strings.HasPrefix(err.Error(), "multi: "), "%v", err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := multi.New(many[:multi.MaxParts]...)
	require.NoError(t, err, "MaxParts parts are fine")
	_, err = multi.New(multi.Part{Name: strings.Repeat("a-9", 10) + "zz", Factory: f, Types: types(typeA1)})
	require.NoError(t, err, "a 32-byte name of every allowed character is fine")
}

func TestMultiPartsAndStart(t *testing.T) {
	var order []string
	mk := func(name string) nodes.Factory {
		return func(id nodes.NodeID) nodes.Node {
			order = append(order, "build "+name+" "+string(id))
			return &recNode{id: id, onStart: func(nodes.Env) { order = append(order, "start "+name) }}
		}
	}
	f, err := multi.New(
		multi.Part{Name: "queues", Factory: mk("queues"), Types: []nodes.MessageType{typeB}},
		multi.Part{Name: "locks", Factory: mk("locks"), Types: []nodes.MessageType{typeA1}},
	)
	require.NoError(t, err)
	n := f("n7").(*multi.Node)
	require.Equal(t, []string{"queues", "locks"}, n.Parts(), "the order given, not sorted")
	parts := n.Parts()
	parts[0] = "changed"
	require.Equal(t, []string{"queues", "locks"}, n.Parts(), "Parts returns a copy")
	require.Nil(t, n.Part("locks"))

	n.Start(newFakeEnv(t, "n7"))
	require.Equal(t, []string{"build queues n7", "build locks n7", "start queues", "start locks"}, order,
		"every part is built before the first starts, in order")
	require.IsType(t, &recNode{}, n.Part("locks"))
	require.NotSame(t, n.Part("locks"), n.Part("queues"))
	require.Nil(t, n.Part("caches"))
	require.Nil(t, n.Part(""))

	// A restart is a new value from the factory: every part is built anew.
	n2 := f("n7").(*multi.Node)
	n2.Start(newFakeEnv(t, "n7"))
	require.NotSame(t, n.Part("locks"), n2.Part("locks"))

	require.Panics(t, func() { f("n1").Start(newFakeEnv(t, "n2")) }, "an Env of another node")
	nilPart, err := multi.New(multi.Part{Name: "x", Factory: func(nodes.NodeID) nodes.Node { return nil }, Types: []nodes.MessageType{typeA1}})
	require.NoError(t, err)
	require.PanicsWithValue(t, `multi: node n1: the factory of part "x" returned nil`, func() { nilPart("n1").Start(newFakeEnv(t, "n1")) })
}

func TestMultiRoutesMessagesByType(t *testing.T) {
	tp := newTwoParts(t)
	tests := []struct {
		from    nodes.NodeID
		typ     nodes.MessageType
		a, b    string // the event each part should record, "" for none
		dropped uint64
	}{
		{"n2", typeA1, "recv n2 41", "", 0},
		{"c1", typeB, "", "recv c1 43", 0},
		{"n1", typeA2, "recv n1 42", "", 0},
		{"n2", typeX, "", "", 1},
		{"n2", 1000, "", "", 2},
		{"n2", nodes.MaxMessageType + 5, "", "", 3}, // out of the table: dropped, no panic
	}
	for i, tc := range tests {
		na, nb, nl := len(tp.a.events), len(tp.b.events), len(tp.env.logs)
		tp.node.Receive(tc.from, msg{tc.typ})
		check := func(r *recNode, before int, want string) {
			if want == "" {
				require.Len(t, r.events, before, "case %d", i)
				return
			}
			require.Equal(t, []string{want}, r.events[before:], "case %d", i)
		}
		check(tp.a, na, tc.a)
		check(tp.b, nb, tc.b)
		require.Equal(t, tc.dropped, tp.node.Dropped(), "case %d", i)
		if tc.a == "" && tc.b == "" {
			require.Len(t, tp.env.logs, nl+1, "case %d: a drop is logged", i)
			require.Contains(t, tp.env.logs[nl], "multi: dropped")
			require.Contains(t, tp.env.logs[nl], fmt.Sprintf("type %d", tc.typ))
		}
	}
}

func TestMultiTimersArePrefixedAndRoutedBack(t *testing.T) {
	tp := newTwoParts(t)
	idA := tp.a.env.SetTimer(10*time.Millisecond, nodes.Timer{Kind: "tick", Arg: 7})
	idB := tp.b.env.SetTimer(0, nodes.Timer{Kind: "tick", Arg: 8})
	idA2 := tp.a.env.SetTimer(time.Second, nodes.Timer{Kind: "x/y", Arg: 9})
	idA3 := tp.a.env.SetTimer(time.Second, nodes.Timer{Kind: "tick", Arg: 10}) // cached kind
	require.Equal(t, []timerSet{
		{10 * time.Millisecond, nodes.Timer{Kind: "a/tick", Arg: 7}, 1},
		{0, nodes.Timer{Kind: "b/tick", Arg: 8}, 2},
		{time.Second, nodes.Timer{Kind: "a/x/y", Arg: 9}, 3},
		{time.Second, nodes.Timer{Kind: "a/tick", Arg: 10}, 4},
	}, tp.env.timers)
	require.Equal(t, []nodes.TimerID{1, 2, 3, 4}, []nodes.TimerID{idA, idB, idA2, idA3}, "the Env's ids, unchanged")
	tp.a.env.CancelTimer(idA2)
	tp.b.env.CancelTimer(99)
	require.Equal(t, []nodes.TimerID{3, 99}, tp.env.cancelled)

	tests := []struct {
		kind    string
		arg     uint64
		a, b    string
		dropped uint64
	}{
		{"a/tick", 7, "fire tick/7", "", 0},
		{"b/tick", 8, "", "fire tick/8", 0},
		{"a/x/y", 9, "fire x/y/9", "", 0},
		{"a/", 1, "fire /1", "", 0},
		{"c/tick", 1, "", "", 1},
		{"tick", 1, "", "", 2},
		{"", 1, "", "", 3},
		{"/tick", 1, "", "", 4},
		{"A/tick", 1, "", "", 5},
	}
	for _, tc := range tests {
		na, nb, nl := len(tp.a.events), len(tp.b.events), len(tp.env.logs)
		tp.node.Fire(nodes.Timer{Kind: tc.kind, Arg: tc.arg})
		for _, p := range []struct {
			r      *recNode
			before int
			want   string
		}{{tp.a, na, tc.a}, {tp.b, nb, tc.b}} {
			if p.want == "" {
				require.Len(t, p.r.events, p.before, "kind %q", tc.kind)
			} else {
				require.Equal(t, []string{p.want}, p.r.events[p.before:], "kind %q", tc.kind)
			}
		}
		require.Equal(t, tc.dropped, tp.node.Dropped(), "kind %q", tc.kind)
		if tc.a == "" && tc.b == "" {
			require.Len(t, tp.env.logs, nl+1, "kind %q: a drop is logged", tc.kind)
			require.Contains(t, tp.env.logs[nl], "multi: dropped timer")
		}
	}

	// Many distinct kinds (past the cache's bound) are still prefixed.
	for i := range 100 {
		tp.b.env.SetTimer(0, nodes.Timer{Kind: fmt.Sprintf("k%d", i)})
	}
	last := tp.env.timers[len(tp.env.timers)-1]
	require.Equal(t, "b/k99", last.t.Kind)
}

func TestMultiEnvPassesThrough(t *testing.T) {
	tp := newTwoParts(t)
	for _, p := range []*recNode{tp.a, tp.b} {
		env := p.env
		require.Equal(t, nodes.NodeID("n1"), env.ID())
		require.Equal(t, nodes.NodeID("n1"), p.id, "the factory gets the composite's id")
		require.Equal(t, tp.env.peers, env.Peers())
		require.Equal(t, tp.env.now, env.Now())
		require.Same(t, tp.env.rng, env.Rand(), "one random stream, shared")
	}
	tp.a.env.Send("n2", msg{typeB})
	tp.b.env.Send("c9", msg{typeA1})
	require.Equal(t, []sent{{"n2", msg{typeB}}, {"c9", msg{typeA1}}}, tp.env.sent)
	tp.a.env.Logf("hello %d%%", 5)
	tp.b.env.Logf("100%% %s", "done")
	require.Equal(t, []string{"a: hello 5%", "b: 100% done"}, tp.env.logs)
}

func writeFile(t *testing.T, d nodes.Disk, name, content string) {
	t.Helper()
	f, err := d.Open(name)
	require.NoError(t, err)
	_, err = f.Append([]byte(content))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
}

func readFile(t *testing.T, d nodes.Disk, name string) string {
	t.Helper()
	f, err := d.Open(name)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, f.Size())
	n, err := f.ReadAt(b, 0)
	if !errors.Is(err, io.EOF) {
		require.NoError(t, err)
	}
	return string(b[:n])
}

func TestMultiDiskViewsAreIsolated(t *testing.T) {
	tp := newTwoParts(t)
	da, db, real := tp.a.env.Disk(), tp.b.env.Disk(), tp.env.disk
	require.Same(t, da, tp.a.env.Disk(), "one view per part")

	writeFile(t, da, "wal", "a's log")
	writeFile(t, db, "wal", "b's log")
	writeFile(t, da, "meta.tmp", "a's meta")
	writeFile(t, real, "other", "not a part's")
	writeFile(t, real, "a.", "a bare prefix") // valid on the Disk, but no file of a view
	writeFile(t, real, "ab.x", "a name starting with a's name")

	require.Equal(t, "a's log", readFile(t, da, "wal"))
	require.Equal(t, "b's log", readFile(t, db, "wal"))
	list := func(d nodes.Disk) []string {
		names, err := d.List()
		require.NoError(t, err)
		return names
	}
	require.Equal(t, []string{"a.", "a.meta.tmp", "a.wal", "ab.x", "b.wal", "other"}, list(real))
	require.Equal(t, []string{"meta.tmp", "wal"}, list(da))
	require.Equal(t, []string{"wal"}, list(db))

	f, err := da.Open("wal")
	require.NoError(t, err)
	require.Equal(t, "wal", f.Name(), "a file names itself as its view does")
	require.Equal(t, int64(len("a's log")), f.Size())
	require.NoError(t, f.Close())

	require.NoError(t, da.Rename("meta.tmp", "meta"))
	require.Equal(t, []string{"meta", "wal"}, list(da))
	require.Equal(t, "a's meta", readFile(t, real, "a.meta"))
	require.NoError(t, db.Remove("wal"))
	require.NoError(t, db.Remove("never-was"))
	require.Equal(t, []string{}, list(db))
	require.Equal(t, "a's log", readFile(t, da, "wal"), "b's removal left a's file alone")

	// The longest name that fits with the prefix is valid on the Disk.
	longest := strings.Repeat("z", nodes.MaxFileNameBytes-len("a."))
	writeFile(t, da, longest, "long")
	require.Contains(t, list(da), longest)

	for _, bad := range []string{"", ".", "..", "x/y", "../b.wal", "a b", longest + "z"} {
		_, err := da.Open(bad)
		require.ErrorIs(t, err, nodes.ErrBadFileName, "open %q", bad)
		require.ErrorIs(t, da.Remove(bad), nodes.ErrBadFileName, "remove %q", bad)
		require.ErrorIs(t, da.Rename("wal", bad), nodes.ErrBadFileName, "rename to %q", bad)
		require.ErrorIs(t, da.Rename(bad, "wal"), nodes.ErrBadFileName, "rename from %q", bad)
	}
	require.Equal(t, []string{"a.", "a.meta", "a.wal", "a." + longest, "ab.x", "other"}, list(real),
		"bad names are refused before the Disk is touched")
}

// A restarted composite finds each part's files through its view.
func TestMultiRestartRecoversEachPartsFiles(t *testing.T) {
	var built []*recNode
	onStart := func(env nodes.Env) {
		names, err := env.Disk().List()
		if err != nil {
			panic(err)
		}
		env.Logf("files %v", names)
		f, err := env.Disk().Open("boots")
		if err != nil {
			panic(err)
		}
		if _, err := f.Append([]byte{1}); err != nil {
			panic(err)
		}
		if err := f.Sync(); err != nil {
			panic(err)
		}
	}
	f, err := multi.New(
		multi.Part{Name: "locks", Factory: recFactory(&built, onStart), Types: []nodes.MessageType{typeA1}},
		multi.Part{Name: "caches", Factory: recFactory(&built, onStart), Types: []nodes.MessageType{typeB}},
	)
	require.NoError(t, err)
	env := newFakeEnv(t, "n1")
	f("n1").Start(env)
	f("n1").Start(env)
	require.Equal(t, []string{
		"locks: files []", "caches: files []",
		"locks: files [boots]", "caches: files [boots]",
	}, env.logs)
	names, err := env.disk.List()
	require.NoError(t, err)
	require.Equal(t, []string{"caches.boots", "locks.boots"}, names)
	require.Equal(t, "\x01\x01", readFile(t, built[2].env.Disk(), "boots"))
}
