package mesi

import (
	"bytes"
	"testing"
)

func TestMessageCodecRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{Kind: GetS, Key: "k", From: "a", To: "b", Txn: 7},
		{Kind: Data, Key: "k1", From: "b", To: "a", Requester: "c", Txn: 1 << 40, OwnerTxn: 3, Value: []byte("v"), Version: 5<<32 | 1, State: Modified, Acks: 2, Grant: 5},
		{Kind: Reset, From: "a", To: "a"},
	} {
		b := AppendMessage(nil, m)
		got, err := DecodeMessage(b, DefaultMaxKeyBytes, DefaultMaxValueBytes)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if !bytes.Equal(AppendMessage(nil, got), b) || got.String() != m.String() {
			t.Fatalf("round trip of %v gave %v", m, got)
		}
		if _, err := DecodeMessage(b[:len(b)-1], DefaultMaxKeyBytes, DefaultMaxValueBytes); err == nil {
			t.Fatalf("truncated %v decoded", m)
		}
	}
	bad := AppendMessage(nil, Message{Kind: GetS, Key: "k", From: "a", To: "b"})
	bad[1] = 99
	if _, err := DecodeMessage(bad, DefaultMaxKeyBytes, DefaultMaxValueBytes); err == nil {
		t.Fatal("unknown kind decoded")
	}
}

func FuzzDecodeMesiMessage(f *testing.F) {
	f.Add(AppendMessage(nil, Message{Kind: Data, Key: "k", From: "a", To: "b", Value: []byte("x"), Acks: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b, DefaultMaxKeyBytes, DefaultMaxValueBytes)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendMessage(nil, m), b) {
			t.Fatalf("not canonical: %x", b)
		}
	})
}

// settle delivers p's outbox to itself until it is empty.
func settle(p Protocol) {
	for out := p.Outbox(); len(out) > 0; out = p.Outbox() {
		for _, m := range out {
			p.Deliver(m, 0)
		}
	}
}

func TestDurableRoundTrip(t *testing.T) {
	cfg := Config{Self: "a", Nodes: []NodeID{"a"}, Home: homeFixed("a"), Capacity: 1}
	d, err := NewDirectory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"x", "y", "z"} {
		if err := d.Put(uint64(i), k, []byte(k+"!"), 0); err != nil {
			t.Fatal(err)
		}
		settle(d)
	}
	if !d.DurableDirty() {
		t.Fatal("not dirty after puts")
	}
	b := d.Durable()
	if d.DurableDirty() {
		t.Fatal("dirty after Durable")
	}
	d2, _ := NewDirectory(cfg)
	if err := d2.RestoreDurable(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d2.Durable(), b) {
		t.Fatal("restored state encodes differently")
	}
	v, ver, _ := d2.Memory("x")
	if string(v) != "x!" || ver == 0 {
		t.Fatalf("memory of x: %q v%d", v, ver)
	}
	if err := d2.RestoreDurable(b[:len(b)-1]); err == nil {
		t.Fatal("truncated state restored")
	}
	d2.SetTxnBase(1 << 32)
	d2.Crash()
	settle(d2)
	if err := d2.Get(9, "y", 0); err != nil {
		t.Fatal(err)
	}
	settle(d2)
	if c := d2.Completions(); len(c) != 1 || string(c[0].Value) != "y!" {
		t.Fatalf("completions after restore: %+v", c)
	}

	bc := Config{Self: "m", Nodes: []NodeID{"c", "m"}, Memory: "m", Capacity: 1}
	m, _ := NewBroadcast(bc)
	m.Deliver(Message{Kind: MemWrite, Key: "k", From: "c", To: "m", Value: []byte("v"), Version: 3}, 0)
	if !m.DurableDirty() {
		t.Fatal("memory not dirty after MemWrite")
	}
	mb := m.Durable()
	m2, _ := NewBroadcast(bc)
	if err := m2.RestoreDurable(mb); err != nil {
		t.Fatal(err)
	}
	if v, ver, ok := m2.Memory("k"); !ok || string(v) != "v" || ver != 3 {
		t.Fatalf("restored memory: %q %d %v", v, ver, ok)
	}
}
