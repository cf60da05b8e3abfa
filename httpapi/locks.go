package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
)

// acquireOp is one acquire in progress.
type acquireOp struct {
	srv   *Server
	r     *http.Request
	req   apitypes.AcquireRequest
	mode  lockmgr.Mode
	wait  time.Duration
	ttl   time.Duration
	start time.Time

	mb    *mailbox
	held  bool // mb's turn
	sid   lockmgr.SessionID
	fresh bool // the session was opened for this acquire
	seq   uint64
}

// lockAcquire serves POST /locks/acquire.
func (srv *Server) lockAcquire(w http.ResponseWriter, r *http.Request) *apiError {
	op := &acquireOp{srv: srv, r: r, start: time.Now()}
	if e := decode(w, r, srv.s.MaxBodyBytes, &op.req); e != nil {
		return e
	}
	if e := op.parse(); e != nil {
		return e
	}
	owner, e := srv.lockPrep(r.Context(), r, op.req.Session, op.req.Client)
	if e != nil {
		return e
	}
	if op.mb, e = srv.lockActor(r.Context(), op.req.Client, owner); e != nil {
		return e
	}
	op.held = true
	defer func() { srv.clients.done(op.mb, op.held) }()
	token, e := op.run()
	if e != nil {
		if op.fresh {
			srv.closeQuietly(r, op.mb, op.held, op.sid)
		}
		return e
	}
	srv.metrics.lockAcquisition.Observe(time.Since(op.start).Seconds())
	writeJSON(w, http.StatusOK, apitypes.AcquireReply{Granted: true, Token: uint64(token), Session: uint64(op.sid),
		Client: string(op.mb.id), Seq: op.seq, Resource: op.req.Resource, Mode: op.mode.String()})
	return nil
}

// parse validates the request.
func (op *acquireOp) parse() *apiError {
	req, cfg := &op.req, op.srv.s.Locks
	var e *apiError
	if e = checkResource(req.Resource); e != nil {
		return e
	}
	if op.mode, e = parseMode(req.Mode); e != nil {
		return e
	}
	if op.wait, e = parseDuration("wait", req.Wait, min(op.srv.s.RequestTimeout, cfg.MaxWait)); e != nil {
		return e
	}
	if op.wait > cfg.MaxWait {
		return badField("wait", "wait: %v above the maximum %v", op.wait, cfg.MaxWait)
	}
	if op.ttl, e = parseTTL(req.TTL, req.Session, cfg.SessionTTL); e != nil {
		return e
	}
	if e = clientField(req.Client, req.Seq); e != nil {
		return e
	}
	if req.Client != "" && req.Session == 0 {
		return badField("session", "session: required with client and seq (open one with POST /locks/session)")
	}
	return nil
}

// run opens a session if needed, sends the Acquire and, if it queues,
// waits for the leader's Notify. It returns the fencing token.
func (op *acquireOp) run() (lockmgr.Token, *apiError) {
	ctx := op.r.Context()
	op.sid = lockmgr.SessionID(op.req.Session)
	if op.sid == 0 {
		sid, e := op.srv.openSession(ctx, op.r, op.mb, op.srv.clients.seq.next(), op.ttl)
		if e != nil {
			return 0, e
		}
		op.sid, op.fresh = sid, true
	}
	op.seq = op.srv.seqFor(op.req.Seq)
	policy := lockmgr.WaitPolicy{Kind: lockmgr.NoWait}
	if op.wait > 0 {
		policy = lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: op.wait}
	}
	cmd := lockmgr.Acquire{Client: lockmgr.ClientID(op.mb.id), Seq: op.seq, Session: op.sid,
		Resource: lockmgr.Resource(op.req.Resource), Mode: op.mode, Wait: policy}
	res, e := op.srv.lockCommand(ctx, op.r, op.mb, cmd)
	if e != nil {
		return 0, op.annotate(e)
	}
	switch res.Status {
	case lockmgr.StatusGranted:
		return res.Token, nil
	case lockmgr.StatusQueued:
		op.mb.unlock() // the command is in: others may use the client while this one waits
		op.held = false
		return op.awaitGrant(res.Request)
	}
	return 0, op.annotate(lockError(res.Err))
}

// awaitGrant waits for the Notify of queued request, up to the wait plus
// the grace the leader needs to commit its end.
func (op *acquireOp) awaitGrant(request uint64) (lockmgr.Token, *apiError) {
	ctx, cancel := context.WithTimeout(op.r.Context(), op.wait+op.srv.s.Locks.WaitGrace)
	defer cancel()
	key := msgKey{kindLockNotify, request}
	w := op.mb.expect(key)
	defer op.mb.forget(key)
	m, err := await(ctx, w)
	if err != nil {
		return 0, op.annotate(asAPIError(err).with("request", request))
	}
	ev := m.(*locks.Notify).Event
	if ev.Kind != lockmgr.EventGranted {
		return 0, op.annotate(lockError(ev.Err))
	}
	return ev.Token, nil
}

// annotate adds what a caller needs to retry: the acquire's client and
// seq, and its session unless this request opened it (it is then closed).
func (op *acquireOp) annotate(e *apiError) *apiError {
	if op.seq != 0 {
		e = e.with("client", string(op.mb.id)).with("seq", op.seq)
	}
	if !op.fresh && op.sid != 0 {
		e = e.with("session", uint64(op.sid))
	}
	return e
}

// lockRelease serves POST /locks/release {session, resource}.
func (srv *Server) lockRelease(w http.ResponseWriter, r *http.Request) *apiError {
	return srv.sessionCommand(w, r, "release", func(req *apitypes.SessionRequest, client lockmgr.ClientID, seq uint64) lockmgr.Command {
		return lockmgr.Release{Client: client, Seq: seq, Session: lockmgr.SessionID(req.Session), Resource: lockmgr.Resource(req.Resource)}
	})
}

// lockRenew serves POST /locks/renew {session}: a keepalive.
func (srv *Server) lockRenew(w http.ResponseWriter, r *http.Request) *apiError {
	return srv.sessionCommand(w, r, "renew", func(req *apitypes.SessionRequest, client lockmgr.ClientID, seq uint64) lockmgr.Command {
		return lockmgr.KeepAlive{Client: client, Seq: seq, Session: lockmgr.SessionID(req.Session)}
	})
}

// lockClose serves POST /locks/session/close {session}.
func (srv *Server) lockClose(w http.ResponseWriter, r *http.Request) *apiError {
	return srv.sessionCommand(w, r, "close", func(req *apitypes.SessionRequest, client lockmgr.ClientID, seq uint64) lockmgr.Command {
		return lockmgr.CloseSession{Client: client, Seq: seq, Session: lockmgr.SessionID(req.Session)}
	})
}

// sessionCommand serves a command on an existing session: validate,
// check leadership, run it as the session's owner (or the caller's
// client), answer {"ok": true, "session", "client", "seq"}.
func (srv *Server) sessionCommand(w http.ResponseWriter, r *http.Request, what string,
	build func(req *apitypes.SessionRequest, client lockmgr.ClientID, seq uint64) lockmgr.Command) *apiError {
	var req apitypes.SessionRequest
	if e := decode(w, r, srv.s.MaxBodyBytes, &req); e != nil {
		return e
	}
	if e := checkSessionRequest(&req, what); e != nil {
		return e
	}
	owner, e := srv.lockPrep(r.Context(), r, req.Session, req.Client)
	if e != nil {
		return e
	}
	mb, e := srv.lockActor(r.Context(), req.Client, owner)
	if e != nil {
		return e
	}
	defer srv.clients.done(mb, true)
	seq := srv.seqFor(req.Seq)
	res, e := srv.lockCommand(r.Context(), r, mb, build(&req, lockmgr.ClientID(mb.id), seq))
	if e == nil && res.Status == lockmgr.StatusRejected {
		e = lockError(res.Err)
	}
	if e != nil {
		return e.with("client", string(mb.id)).with("seq", seq)
	}
	writeJSON(w, http.StatusOK, apitypes.SessionReply{OK: true, Session: req.Session, Client: string(mb.id), Seq: seq})
	return nil
}

// checkSessionRequest validates the fields common to session commands.
func checkSessionRequest(req *apitypes.SessionRequest, what string) *apiError {
	if req.Session == 0 {
		return badField("session", "session: required (the id an acquire or POST /locks/session returned)")
	}
	if req.TTL != nil {
		return badField("ttl", "ttl: only for a new session")
	}
	if what == "release" {
		if e := checkResource(req.Resource); e != nil {
			return e
		}
	} else if req.Resource != "" {
		return badField("resource", "resource: not a field of %s", what)
	}
	return clientField(req.Client, req.Seq)
}

// lockOpen serves POST /locks/session {ttl?, client?, seq?}: opens a
// session and answers {"session", "client", "seq", "ttl"}.
func (srv *Server) lockOpen(w http.ResponseWriter, r *http.Request) *apiError {
	var req apitypes.SessionRequest
	if e := decode(w, r, srv.s.MaxBodyBytes, &req); e != nil {
		return e
	}
	if req.Session != 0 {
		return badField("session", "session: not a field of a session open")
	}
	if req.Resource != "" {
		return badField("resource", "resource: not a field of a session open")
	}
	ttl, e := parseTTL(req.TTL, 0, srv.s.Locks.SessionTTL)
	if e == nil {
		e = clientField(req.Client, req.Seq)
	}
	if e != nil {
		return e
	}
	if _, e := srv.lockPrep(r.Context(), r, 0, req.Client); e != nil {
		return e
	}
	mb, e := srv.lockActor(r.Context(), req.Client, "")
	if e != nil {
		return e
	}
	defer srv.clients.done(mb, true)
	seq := srv.seqFor(req.Seq)
	sid, e := srv.openSession(r.Context(), r, mb, seq, ttl)
	if e != nil {
		return e.with("client", string(mb.id)).with("seq", seq)
	}
	writeJSON(w, http.StatusOK, apitypes.OpenSessionReply{Session: uint64(sid), Client: string(mb.id), Seq: seq, TTL: ttl.String()})
	return nil
}

// lockQuery serves GET /locks/{resource}: its holders and waiters, read
// linearizably by the leader (a follower redirects).
func (srv *Server) lockQuery(w http.ResponseWriter, r *http.Request) *apiError {
	resource := strings.TrimPrefix(r.URL.Path, "/locks/")
	if e := checkResource(resource); e != nil {
		return e
	}
	ctx, cancel := srv.withTimeout(r.Context())
	defer cancel()
	mb, err := srv.clients.open(srv.clients.pool[0]) // answers come by query id: no turn needed
	if err != nil {
		return asAPIError(err)
	}
	defer srv.clients.release(mb)
	id := srv.clients.seq.next()
	m, err := mb.call(ctx, msgKey{kindLockQuery, id}, &locks.Query{Client: lockmgr.ClientID(mb.id), ID: id, Resource: lockmgr.Resource(resource)})
	if err != nil {
		return asAPIError(err)
	}
	q := m.(*locks.QueryReply)
	switch q.Service {
	case nodes.ServiceOK:
	case nodes.ServiceNotLeader:
		return srv.redirect(r, q.Leader)
	case nodes.ServiceNoQuorum:
		return noQuorum("the lock group has no leader")
	default:
		return busy(q.Service.String())
	}
	writeJSON(w, http.StatusOK, queryBody(resource, q))
	return nil
}

// queryBody renders a query's answer.
func queryBody(resource string, q *locks.QueryReply) apitypes.LockState {
	holders := make([]apitypes.LockHolder, 0, len(q.Holders))
	for _, h := range q.Holders {
		holders = append(holders, apitypes.LockHolder{Session: uint64(h.Session), Client: string(h.Client), Mode: h.Mode.String(), Token: uint64(h.Token)})
	}
	waiters := make([]apitypes.LockWaiter, 0, len(q.Waiters))
	for _, wt := range q.Waiters {
		waiters = append(waiters, apitypes.LockWaiter{Session: uint64(wt.Session), Client: string(wt.Client), Mode: wt.Mode.String(), Request: wt.Request})
	}
	return apitypes.LockState{Resource: resource, Holders: holders, Waiters: waiters}
}

// checkResource validates a resource name.
func checkResource(name string) *apiError {
	if name == "" || len(name) > lockmgr.MaxResourceBytes {
		return badField("resource", "resource: %d bytes, want 1..%d", len(name), lockmgr.MaxResourceBytes)
	}
	return nil
}

// parseMode reads "exclusive" or "shared".
func parseMode(s string) (lockmgr.Mode, *apiError) {
	switch s {
	case "exclusive":
		return lockmgr.Exclusive, nil
	case "shared":
		return lockmgr.Shared, nil
	}
	return 0, badField("mode", "mode: %q, want \"exclusive\" or \"shared\"", s)
}

// parseTTL reads a new session's TTL; it is refused with an existing
// session.
func parseTTL(v *string, session uint64, def time.Duration) (time.Duration, *apiError) {
	if v != nil && session != 0 {
		return 0, badField("ttl", "ttl: only for a new session, and session %d is given", session)
	}
	ttl, e := parseDuration("ttl", v, def)
	if e == nil && ttl == 0 {
		e = badField("ttl", "ttl: %s, want a positive duration", fmt.Sprint(ttl))
	}
	return ttl, e
}
