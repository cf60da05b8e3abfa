package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/queue"
)

// queueErrors maps the queue state machine's rejections to answers.
var queueErrors = []rejection{
	{queue.ErrUnknownReceipt, http.StatusConflict, "unknown_receipt", "receipt"},
	{queue.ErrStaleSequence, http.StatusConflict, "stale_sequence", "seq"},
	{queue.ErrQueueFull, http.StatusTooManyRequests, "queue_full", ""},
	{queue.ErrMoved, http.StatusServiceUnavailable, "queue_moved", ""},
	{queue.ErrPayloadTooLarge, http.StatusRequestEntityTooLarge, "too_large", "body"},
	{queue.ErrInvalidQueue, http.StatusBadRequest, "bad_request", "queue"},
	{queue.ErrInvalidVisibility, http.StatusBadRequest, "bad_request", "visibility"},
	{queue.ErrInvalidDedupID, http.StatusBadRequest, "bad_request", "dedup_id"},
	{queue.ErrInvalidClient, http.StatusBadRequest, "bad_request", "client"},
	{queue.ErrInvalidSeq, http.StatusBadRequest, "bad_request", "seq"},
}

// queueError turns a rejection by the queue into an answer.
func queueError(err error) *apiError { return rejected(queueErrors, err) }

// enqueue serves POST /queue/enqueue: {"id", "duplicate"} once the message
// is committed on a majority of its group.
func (srv *Server) enqueue(w http.ResponseWriter, r *http.Request) *apiError {
	var req apitypes.EnqueueRequest
	if e := decode(w, r, srv.s.MaxBodyBytes, &req); e != nil {
		return e
	}
	if e := checkQueueName(req.Queue); e != nil {
		return e
	}
	if max := srv.s.Queues.MaxPayloadBytes; len(req.Body) > max {
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body: %d bytes, at most %d", len(req.Body), max), code: "too_large", field: "body"}
	}
	if len(req.DedupID) > queue.MaxNameBytes {
		return badField("dedup_id", "dedup_id: %d bytes, at most %d", len(req.DedupID), queue.MaxNameBytes)
	}
	start := time.Now()
	res, e := srv.queueCall(r, req.Queue, req.Client, req.Seq, func(c queue.ClientID, seq uint64) queue.Command {
		return queue.Enqueue{Client: c, Seq: seq, Queue: req.Queue, Payload: req.Body, DedupID: req.DedupID}
	})
	if e != nil {
		return e
	}
	srv.metrics.enqueueLatency.Observe(time.Since(start).Seconds())
	writeJSON(w, http.StatusOK, apitypes.EnqueueReply{Queue: req.Queue, ID: apitypes.Decimal(res.ID), Duplicate: res.Duplicate})
	return nil
}

// dequeue serves POST /queue/dequeue: the oldest ready message, in flight
// for the visibility timeout, or {"empty": true}.
func (srv *Server) dequeue(w http.ResponseWriter, r *http.Request) *apiError {
	var req apitypes.DequeueRequest
	if e := decode(w, r, srv.s.MaxBodyBytes, &req); e != nil {
		return e
	}
	if e := checkQueueName(req.Queue); e != nil {
		return e
	}
	vis, e := parseDuration("visibility", req.Visibility, srv.s.Queues.DefaultVisibility)
	if e == nil && (vis == 0 || vis > queue.MaxVisibility) {
		e = badField("visibility", "visibility: %v, want (0, %v]", vis, queue.MaxVisibility)
	}
	if e != nil {
		return e
	}
	start := time.Now()
	res, e := srv.queueCall(r, req.Queue, req.Client, req.Seq, func(c queue.ClientID, seq uint64) queue.Command {
		return queue.Dequeue{Client: c, Seq: seq, Queue: req.Queue, Visibility: vis}
	})
	if e != nil {
		return e
	}
	srv.metrics.dequeueLatency.Observe(time.Since(start).Seconds())
	out := apitypes.DequeueReply{Queue: req.Queue, Empty: res.Status == queue.StatusEmpty}
	if !out.Empty {
		out.ID, out.Receipt, out.Body, out.Deliveries, out.Gone = apitypes.Decimal(res.ID), apitypes.Decimal(res.Receipt), res.Payload, res.Deliveries, res.Gone
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ack serves POST /queue/ack: the message delivered under the receipt is
// deleted.
func (srv *Server) ack(w http.ResponseWriter, r *http.Request) *apiError {
	return srv.receiptCommand(w, r, func(c queue.ClientID, seq, receipt uint64) queue.Command {
		return queue.Ack{Client: c, Seq: seq, Receipt: receipt}
	}, func(req *apitypes.ReceiptRequest) any {
		return apitypes.AckReply{Acked: true, Queue: req.Queue, Receipt: req.Receipt}
	})
}

// nack serves POST /queue/nack: the message is ready again at once.
func (srv *Server) nack(w http.ResponseWriter, r *http.Request) *apiError {
	return srv.receiptCommand(w, r, func(c queue.ClientID, seq, receipt uint64) queue.Command {
		return queue.Nack{Client: c, Seq: seq, Receipt: receipt}
	}, func(req *apitypes.ReceiptRequest) any {
		return apitypes.NackReply{Nacked: true, Queue: req.Queue, Receipt: req.Receipt}
	})
}

// receiptCommand serves an ack or a nack: build makes its command, reply
// its answer.
func (srv *Server) receiptCommand(w http.ResponseWriter, r *http.Request, build func(c queue.ClientID, seq, receipt uint64) queue.Command,
	reply func(req *apitypes.ReceiptRequest) any) *apiError {
	var req apitypes.ReceiptRequest
	if e := decode(w, r, srv.s.MaxBodyBytes, &req); e != nil {
		return e
	}
	if e := checkQueueName(req.Queue); e != nil {
		return e
	}
	if req.Receipt == 0 {
		return badField("receipt", "receipt: required (the receipt a dequeue returned)")
	}
	_, e := srv.queueCall(r, req.Queue, req.Client, req.Seq, func(c queue.ClientID, seq uint64) queue.Command {
		return build(c, seq, uint64(req.Receipt))
	})
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, reply(&req))
	return nil
}

// queueCall runs one queue command as the caller's client or a pool
// client, and returns its result (OK or Empty) or the answer its failure
// calls for.
func (srv *Server) queueCall(r *http.Request, name, client string, callerSeq uint64, build func(queue.ClientID, uint64) queue.Command) (queue.Result, *apiError) {
	if e := clientField(client, callerSeq); e != nil {
		return queue.Result{}, e
	}
	ctx, cancel := srv.withTimeout(r.Context())
	defer cancel()
	mb, e := srv.actor(ctx, client)
	if e != nil {
		return queue.Result{}, e
	}
	defer srv.clients.done(mb, true)
	seq := srv.seqFor(callerSeq)
	cmd := build(queue.ClientID(mb.id), seq)
	m, err := mb.call(ctx, msgKey{kindQueueReply, seq}, &queues.Request{Queue: name, Cmd: cmd.Encode()})
	if err != nil {
		return queue.Result{}, asAPIError(err)
	}
	rep, ok := m.(*queues.Reply)
	if !ok {
		return queue.Result{}, asAPIError(fmt.Errorf("unexpected answer %s", nodes.TypeName(m.Type())))
	}
	switch rep.Service {
	case nodes.ServiceOK:
		if rep.Result.Status == queue.StatusRejected {
			return queue.Result{}, queueError(rep.Result.Err)
		}
		return rep.Result, nil
	case nodes.ServiceNotLeader:
		return queue.Result{}, srv.redirect(r, rep.Leader)
	case nodes.ServiceNoQuorum:
		return queue.Result{}, noQuorum(fmt.Sprintf("queue %s has no leader reachable from here", name))
	case nodes.ServiceBadRequest:
		return queue.Result{}, badField(queueDetailField(rep.Detail), "%s", rep.Detail)
	}
	return queue.Result{}, busy(rep.Detail)
}

// actor returns the caller's client (turn held) if it names one, else a
// pool client. ctx bounds the wait for a turn.
func (srv *Server) actor(ctx context.Context, client string) (*mailbox, *apiError) {
	if client == "" {
		mb, err := srv.clients.pooled(ctx)
		if err != nil {
			return nil, asAPIError(err)
		}
		return mb, nil
	}
	mb, err := srv.clients.locked(ctx, nodes.NodeID(client))
	if err != nil {
		return nil, clientError(err)
	}
	return mb, nil
}

// queueDetailField guesses the request field a queue node's bad-request
// detail is about.
func queueDetailField(detail string) string {
	switch {
	case strings.Contains(detail, "Payload"):
		return "body"
	case strings.Contains(detail, "Queue"):
		return "queue"
	}
	return ""
}

// checkQueueName validates a queue name as the queue nodes do.
func checkQueueName(name string) *apiError {
	if err := queues.ValidateQueueName("queue", name); err != nil {
		return badField("queue", "%v", err)
	}
	return nil
}
