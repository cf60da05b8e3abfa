package locks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
)

func sampleMessages() []nodes.Message {
	acq := lockmgr.Acquire{Client: "c1", Seq: 7, Session: 3, Resource: "r1", Mode: lockmgr.Exclusive,
		Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second}}
	return []nodes.Message{
		&RaftMsg{M: raft.Message{Type: raft.MsgApp, From: "s1", To: "s2", Term: 3, Index: 9, LogTerm: 2, Commit: 8,
			Entries: []raft.Entry{{Term: 3, Index: 10, Data: acq.Encode()}}}},
		&Request{Cmd: acq.Encode()},
		&Request{Cmd: acq.Encode(), LeaderOnly: true},
		&Reply{Client: "c1", Seq: 7, Result: lockmgr.Result{Status: lockmgr.StatusGranted, Token: 10, Request: 10}},
		&Reply{Client: "c1", Seq: 8, Service: nodes.ServiceNotLeader, Leader: "s3"},
		&Reply{Client: "c1", Seq: 9, Result: lockmgr.Result{Status: lockmgr.StatusRejected,
			Err: lockmgr.New(lockmgr.Config{}).Apply(1, lockmgr.Release{Client: "c1", Seq: 1, Session: 99, Resource: "r"}).Err}},
		&Notify{Event: lockmgr.Event{Kind: lockmgr.EventGranted, Client: "c2", Session: 4, Resource: "r1", Mode: lockmgr.Shared, Request: 12, Token: 15}},
		&Query{Client: "c1", ID: 3, Resource: "r1"},
		&QueryReply{Client: "c1", ID: 3,
			Holders: []lockmgr.HolderInfo{{Session: 3, Client: "c1", Mode: lockmgr.Exclusive, Token: 10}},
			Waiters: []lockmgr.WaiterInfo{{Session: 4, Client: "c2", Mode: lockmgr.Shared, Request: 12}}},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	var scratch wire.Encoder
	for _, m := range sampleMessages() {
		t.Run(nodes.TypeName(m.Type()), func(t *testing.T) {
			got, err := nodes.RoundTrip(m, &scratch)
			require.NoError(t, err)
			// Compare encodings: errors are compared by their wire form.
			var a, b wire.Encoder
			nodes.EncodeMessage(&a, m)
			nodes.EncodeMessage(&b, got)
			require.Equal(t, a.Bytes(), b.Bytes())
		})
	}
}

func FuzzDecodeLockMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		var e wire.Encoder
		nodes.EncodeMessage(&e, m)
		f.Add(e.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := nodes.DecodeMessage(b)
		if err != nil {
			return
		}
		var e wire.Encoder
		nodes.EncodeMessage(&e, m)
		again, err := nodes.DecodeMessage(e.Bytes())
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", nodes.TypeName(m.Type()), err)
		}
		var e2 wire.Encoder
		nodes.EncodeMessage(&e2, again)
		if string(e.Bytes()) != string(e2.Bytes()) {
			t.Fatalf("%s: encoding not stable", nodes.TypeName(m.Type()))
		}
	})
}
