package raft

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// sampleMessages covers every message type and every field.
func sampleMessages() []Message {
	ents := []Entry{
		{Term: 3, Index: 7, Type: EntryNoOp},
		{Term: 3, Index: 8, Data: []byte("set x=1")},
		{Term: 1 << 40, Index: 1<<63 + 5, Data: bytes.Repeat([]byte{0xff}, 300)},
	}
	return []Message{
		{Type: MsgApp, From: "n1", To: "n2", Term: 3, LogTerm: 2, Index: 6, Entries: ents, Commit: 5},
		{Type: MsgAppResp, From: "n2", To: "n1", Term: 3, Index: 8},
		{Type: MsgAppResp, From: "n2", To: "n1", Term: 3, Index: 9, Reject: true, RejectHint: 4, ConflictTerm: 2},
		{Type: MsgVote, From: "n3", To: "n1", Term: 4, LogTerm: 3, Index: 8, Transfer: true},
		{Type: MsgVoteResp, From: "n1", To: "n3", Term: 4, Reject: true},
		{Type: MsgPreVote, From: "n3", To: "n1", Term: 5, LogTerm: 3, Index: 8},
		{Type: MsgPreVoteResp, From: "n1", To: "n3", Term: 5},
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Commit: 8, Context: []byte("read-1"), Index: 99},
		{Type: MsgHeartbeatResp, From: "n2", To: "n1", Term: 3, Context: []byte("read-1"), Index: 99},
		{Type: MsgSnap, From: "n1", To: "n2", Term: 3, Snapshot: &Snapshot{Index: 100, Term: 3, Data: []byte("state")}},
		{Type: MsgSnap, From: "n1", To: "n2", Term: 3, Snapshot: &Snapshot{Index: 1, Term: 1}},
		{Type: MsgProp, From: "n2", To: "n1", Term: 3, Entries: []Entry{{Data: []byte("cmd")}}},
		{Type: MsgReadIndex, From: "n2", To: "n1", Term: 3, Context: []byte("ctx")},
		{Type: MsgReadIndexResp, From: "n1", To: "n2", Term: 3, Index: 8, Context: []byte("ctx")},
		{Type: MsgTimeoutNow, From: "n1", To: "n2", Term: 3},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		t.Run(m.Type.String(), func(t *testing.T) {
			b := m.Marshal(nil)
			got, err := UnmarshalMessage(b)
			if err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !messagesEqual(m, got) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
			}
			if again := got.Marshal(nil); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs")
			}
			// Every strict prefix is refused, without panicking.
			for n := range len(b) {
				if _, err := UnmarshalMessage(b[:n]); err == nil {
					t.Fatalf("prefix of %d/%d bytes accepted", n, len(b))
				}
			}
			if _, err := UnmarshalMessage(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

func TestUnmarshalMessageRejects(t *testing.T) {
	valid := (&Message{Type: MsgHeartbeat, From: "a", To: "b", Term: 1}).Marshal(nil)
	hugeCount := []byte{messageFormat, byte(MsgApp), 0, 1, 'a', 1, 'b', 0, 0, 0, 0, 0, 0, 0}
	hugeCount = binary.AppendUvarint(hugeCount, MaxMessageEntries)
	tooMany := []byte{messageFormat, byte(MsgApp), 0, 1, 'a', 1, 'b', 0, 0, 0, 0, 0, 0, 0}
	tooMany = binary.AppendUvarint(tooMany, MaxMessageEntries+1)
	longID := append([]byte{messageFormat, byte(MsgApp), 0}, binary.AppendUvarint(nil, MaxNodeIDBytes+1)...)
	hugeSnap := []byte{messageFormat, byte(MsgSnap), flagSnapshot, 1, 'a', 1, 'b', 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}
	hugeSnap = binary.AppendUvarint(hugeSnap, 1<<40)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"format", append([]byte{9}, valid[1:]...), "unknown format"},
		{"type", append([]byte{messageFormat, 0}, valid[2:]...), "unknown message type"},
		{"flags", append([]byte{messageFormat, byte(MsgHeartbeat), 0x80}, valid[3:]...), "unknown flags"},
		{"entry count beyond input", hugeCount, "cannot fit"},
		{"entry count beyond limit", tooMany, "exceeds limit"},
		{"long id", longID, "exceeds limit"},
		{"huge snapshot", hugeSnap, "exceeds limit"},
		{"non-canonical varint", []byte{messageFormat, byte(MsgApp), 0, 0x81, 0x00}, "non-canonical"},
		{"overflow", append([]byte{messageFormat, byte(MsgApp), 0}, bytes.Repeat([]byte{0xff}, 11)...), "overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalMessage(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEntryHardStateSnapshotEncoding(t *testing.T) {
	for _, e := range sampleMessages()[0].Entries {
		b := e.Marshal(nil)
		if len(b) != e.EncodedSize() {
			t.Errorf("entry %d: encoded %d bytes, EncodedSize %d", e.Index, len(b), e.EncodedSize())
		}
		got, err := UnmarshalEntry(b)
		if err != nil || got.Term != e.Term || got.Index != e.Index || got.Type != e.Type || !bytes.Equal(got.Data, e.Data) {
			t.Errorf("entry round trip: %+v, %v", got, err)
		}
		if _, err := UnmarshalEntry(b[:len(b)-1]); err == nil {
			t.Errorf("truncated entry accepted")
		}
	}
	for _, h := range []HardState{{}, {Term: 7, Vote: "n2", Commit: 99}} {
		got, err := UnmarshalHardState(h.Marshal(nil))
		if err != nil || got != h {
			t.Errorf("hard state round trip: %+v, %v", got, err)
		}
	}
	if _, err := UnmarshalHardState([]byte{1, 0x7f}); err == nil {
		t.Errorf("bad hard state accepted")
	}
	s := Snapshot{Index: 10, Term: 2, Data: []byte("abc")}
	got, err := UnmarshalSnapshot(s.Marshal(nil))
	if err != nil || got.Index != 10 || got.Term != 2 || string(got.Data) != "abc" {
		t.Errorf("snapshot round trip: %+v, %v", got, err)
	}
}

func TestStepRejectsInvalidMessages(t *testing.T) {
	nw := newNetwork(t, 3)
	r := nw.node("n1")
	for _, m := range []Message{
		{Type: 0, From: "n2", To: "n1", Term: 1},
		{Type: MsgApp, From: "n2", To: "n3", Term: 1},
		{Type: MsgApp, From: "zz", To: "n1", Term: 1},
		{Type: MsgApp, From: "n1", To: "n1", Term: 1},
		{Type: MsgSnap, From: "n2", To: "n1", Term: 1},
		{Type: MsgSnap, From: "n2", To: "n1", Term: 1, Snapshot: &Snapshot{Index: 5, Term: 2}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 1, Index: 3, Entries: []Entry{{Term: 1, Index: 5}}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 1, Index: 3, Entries: []Entry{{Term: 2, Index: 4}}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 2, Index: 3, LogTerm: 2, Entries: []Entry{{Term: 1, Index: 4}}},
		{Type: MsgApp, From: "n2", To: "n1", Term: 1, Index: 3, LogTerm: 2},
	} {
		if err := r.Step(m); err == nil {
			t.Errorf("Step accepted %v", m)
		}
	}
	nw.elect("n1")
	bogus := Message{Type: MsgAppResp, From: "n2", To: "n1", Term: 1, Index: 100}
	if err := r.Step(bogus); err == nil {
		t.Errorf("leader accepted an acknowledgement beyond its last index")
	}
}

// FuzzUnmarshalMessage checks that the decoder never panics, and that
// whatever it accepts re-encodes to exactly the same bytes (the encoding
// is canonical) and decodes again to an equal message.
func FuzzUnmarshalMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.Marshal(nil))
	}
	f.Add([]byte{})
	f.Add([]byte{messageFormat, byte(MsgApp), 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMessage(b)
		if err != nil {
			return
		}
		again := m.Marshal(nil)
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted input re-encodes differently:\n in %x\nout %x", b, again)
		}
		m2, err := UnmarshalMessage(again)
		if err != nil || !messagesEqual(m, m2) {
			t.Fatalf("second decode: %v, %+v vs %+v", err, m2, m)
		}
	})
}
