package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/queue"
)

// qstep is one operation of a synthetic history, invoked and completed at
// once.
type qstep struct {
	kind    queues.OpKind
	client  queue.ClientID
	queue   string
	payload string // enqueue: the message; dequeue: what was delivered
	receipt uint64 // dequeue: the delivery's receipt; ack: the receipt acked
	status  queue.Status
}

func play(steps []qstep) *QueueHistory {
	h := newQueueHistory()
	var now time.Duration
	h.now = func() time.Duration { return now }
	for i, s := range steps {
		now = time.Duration(i+1) * time.Millisecond
		op := queues.Op{Client: s.client, Seq: uint64(i + 1), Kind: s.kind, Queue: s.queue, Payload: s.payload}
		res := queue.Result{Status: s.status}
		switch s.kind {
		case queues.OpEnqueue:
			res.ID = uint64(i + 1)
		case queues.OpDequeue:
			res.Payload, res.Receipt = []byte(s.payload), s.receipt
		default:
			op.Receipt = s.receipt
		}
		if s.status == queue.StatusRejected {
			res.Err = queue.ErrUnknownReceipt
		}
		h.Invoke(op)
		h.Complete(op, res)
	}
	return h
}

func TestQueueHistoryFindsDeliveryAfterAck(t *testing.T) {
	ok, bad := queue.StatusOK, queue.StatusRejected
	cases := []struct {
		name    string
		steps   []qstep
		wantErr string
	}{
		{"ack then redelivery", []qstep{
			{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
			{queues.OpDequeue, "a", "q0", "m1", 10, ok},
			{queues.OpAck, "a", "q0", "", 10, ok},
			{queues.OpDequeue, "b", "q0", "m1", 12, ok},
		}, "delivered to b under receipt 12 after its delivery 10 was acked"},
		{"a later delivery heard before the ack", []qstep{
			{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
			{queues.OpDequeue, "a", "q0", "m1", 10, ok},
			{queues.OpDequeue, "b", "q0", "m1", 12, ok},
			{queues.OpAck, "a", "q0", "", 10, ok},
		}, "acked under receipt 10 by a, but it was also delivered later under receipt 12"},
		{"expired delivery's ack refused, the new one acked", []qstep{
			{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
			{queues.OpDequeue, "a", "q0", "m1", 10, ok},
			{queues.OpDequeue, "b", "q0", "m1", 12, ok},
			{queues.OpAck, "a", "q0", "", 10, bad},
			{queues.OpAck, "b", "q0", "", 12, ok},
		}, ""},
		{"same receipt numbers in two queues are two deliveries", []qstep{
			{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
			{queues.OpEnqueue, "p", "q1", "m2", 0, ok},
			{queues.OpDequeue, "a", "q0", "m1", 10, ok},
			{queues.OpAck, "a", "q0", "", 10, ok},
			{queues.OpDequeue, "b", "q1", "m2", 10, ok},
			{queues.OpDequeue, "b", "q1", "m2", 20, ok},
		}, ""},
		{"a dead-letter queue shares its queue's receipts", []qstep{
			{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
			{queues.OpDequeue, "a", "q0.dlq", "m1", 30, ok},
			{queues.OpAck, "a", "q0.dlq", "", 30, ok},
			{queues.OpDequeue, "b", "q0", "m1", 31, ok},
		}, "after its delivery 30 was acked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := play(tc.steps)
			if tc.wantErr == "" {
				require.NoError(t, h.violation)
				return
			}
			require.ErrorContains(t, h.violation, tc.wantErr)
		})
	}
}

func TestQueueHistoryUndelivered(t *testing.T) {
	ok := queue.StatusOK
	h := play([]qstep{
		{queues.OpEnqueue, "p", "q0", "m1", 0, ok},
		{queues.OpEnqueue, "p", "q0", "m2", 0, ok},
		{queues.OpEnqueue, "p", "q0", "m3", 0, queue.StatusRejected},
		{queues.OpDequeue, "a", "q0", "m1", 10, ok},
	})
	lost := h.Undelivered()
	require.Len(t, lost, 1, "m1 was delivered and m3 never acknowledged")
	require.Equal(t, "m2", lost[0].Payload)
	require.Equal(t, uint64(2), lost[0].ID)
}

func TestQueueHistoryUnansweredDequeue(t *testing.T) {
	h := play([]qstep{
		{queues.OpEnqueue, "p", "q0", "m1", 0, queue.StatusOK},
		{queues.OpDequeue, "a", "q0", "m1", 10, queue.StatusOK},
	})
	require.False(t, h.UnansweredDequeue("q0"), "every dequeue was answered")
	h.Invoke(queues.Op{Client: "b", Seq: 1, Kind: queues.OpDequeue, Queue: "q1"})
	require.True(t, h.UnansweredDequeue("q1"))
	require.False(t, h.UnansweredDequeue("q0"), "the unanswered dequeue is of another queue")
	h.Invoke(queues.Op{Client: "b", Seq: 2, Kind: queues.OpAck, Queue: "q0", Receipt: 10})
	require.False(t, h.UnansweredDequeue("q0"), "an unanswered ack hides nothing")
}

func TestQueueHistoryFIFO(t *testing.T) {
	first := func(client queue.ClientID, q string, id, receipt uint64) QueueOp {
		return QueueOp{Op: queues.Op{Client: client, Kind: queues.OpDequeue, Queue: q}, Done: true,
			Result: queue.Result{Status: queue.StatusOK, ID: id, Receipt: receipt, Deliveries: 1}}
	}
	moved := queue.MakeID(1, 0) // ids and receipts of the group of epoch 1
	cases := []struct {
		name string
		ops  []QueueOp
		ok   bool
	}{
		{"in order, answers heard out of order", []QueueOp{first("a", "q0", 3, 9), first("b", "q0", 1, 5), first("a", "q0", 2, 7)}, true},
		{"out of order", []QueueOp{first("a", "q0", 1, 5), first("b", "q0", 3, 7), first("a", "q0", 2, 9)}, false},
		{"two queues are independent", []QueueOp{first("a", "q0", 5, 9), first("b", "q1", 1, 10)}, true},
		{"dead-letter queues are exempt", []QueueOp{first("a", "q0.dlq", 5, 9), first("b", "q0.dlq", 1, 10)}, true},
		{"an imported message after a newer one is exempt", []QueueOp{first("a", "q0", moved+4, moved+5), first("a", "q0", 2, moved+9)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &QueueHistory{Ops: tc.ops}
			if tc.ok {
				require.NoError(t, h.CheckFIFO())
			} else {
				require.ErrorContains(t, h.CheckFIFO(), "FIFO")
			}
		})
	}
}
