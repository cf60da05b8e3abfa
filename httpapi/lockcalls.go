package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
)

// lockErrors maps the lock table's rejections to answers.
var lockErrors = []rejection{
	{lockmgr.ErrWouldBlock, http.StatusConflict, "would_block", ""},
	{lockmgr.ErrTimeout, http.StatusRequestTimeout, "wait_timeout", ""},
	{lockmgr.ErrDeadlockVictim, http.StatusConflict, "deadlock_victim", ""},
	{lockmgr.ErrNotHolder, http.StatusConflict, "not_holder", "resource"},
	{lockmgr.ErrUnknownSession, http.StatusNotFound, "unknown_session", "session"},
	{lockmgr.ErrNotSessionOwner, http.StatusConflict, "not_session_owner", "client"},
	{lockmgr.ErrSessionExpired, http.StatusConflict, "session_expired", "session"},
	{lockmgr.ErrSessionClosed, http.StatusConflict, "session_closed", "session"},
	{lockmgr.ErrAlreadyWaiting, http.StatusConflict, "already_waiting", "session"},
	{lockmgr.ErrReleased, http.StatusConflict, "released", ""},
	{lockmgr.ErrStaleSequence, http.StatusConflict, "stale_sequence", "seq"},
	{lockmgr.ErrQueueFull, http.StatusTooManyRequests, "wait_queue_full", ""},
	{lockmgr.ErrTooManySessions, http.StatusTooManyRequests, "too_many_sessions", ""},
	{lockmgr.ErrTooManyLocks, http.StatusTooManyRequests, "too_many_locks", "session"},
	{lockmgr.ErrInvalidResource, http.StatusBadRequest, "bad_request", "resource"},
	{lockmgr.ErrInvalidMode, http.StatusBadRequest, "bad_request", "mode"},
	{lockmgr.ErrInvalidWait, http.StatusBadRequest, "bad_request", "wait"},
	{lockmgr.ErrInvalidTTL, http.StatusBadRequest, "bad_request", "ttl"},
	{lockmgr.ErrInvalidClient, http.StatusBadRequest, "bad_request", "client"},
	{lockmgr.ErrInvalidSeq, http.StatusBadRequest, "bad_request", "seq"},
}

// lockError turns a rejection by the lock table into an answer.
func lockError(err error) *apiError { return rejected(lockErrors, err) }

// lockPrep checks, on the event loop, that this node leads the lock group
// (else a redirect or "no quorum"), and returns the owner of session sid
// (sid 0: none). A caller that names its client needs neither: its
// command, sent leader-only, is answered "not leader" by a follower or
// refused for a session the client does not own, so the trip through the
// event loop is skipped.
func (srv *Server) lockPrep(ctx context.Context, r *http.Request, sid uint64, client string) (lockmgr.ClientID, *apiError) {
	if client != "" {
		return "", nil
	}
	ctx, cancel := srv.withTimeout(ctx)
	defer cancel()
	var st locks.Status
	var owner lockmgr.ClientID
	var known bool
	err := onService(ctx, srv.s.Backend, partLocks, func(ls *locks.Server) {
		st = ls.Status()
		if sid != 0 {
			owner, known = ls.SessionOwner(lockmgr.SessionID(sid))
		}
	})
	switch {
	case err != nil:
		return "", asAPIError(err)
	case st.Role != raft.RoleLeader:
		return "", srv.redirect(r, st.Leader)
	case sid != 0 && !known:
		return "", &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("session %d: no live session has this id", sid),
			code: "unknown_session", field: "session"}
	}
	return owner, nil
}

// lockActor returns the mailbox, turn held, that a lock command runs as:
// the caller's client if named, else the session's owner, else one of the
// pool. A session owned by another client than the caller's is refused.
func (srv *Server) lockActor(ctx context.Context, client string, owner lockmgr.ClientID) (*mailbox, *apiError) {
	ctx, cancel := srv.withTimeout(ctx) // bounds the wait for the client's turn
	defer cancel()
	switch {
	case client != "" && owner != "" && lockmgr.ClientID(client) != owner:
		return nil, &apiError{status: http.StatusConflict, msg: fmt.Sprintf("client %q does not own the session (client %q does)", client, owner),
			code: "not_session_owner", field: "client"}
	case client == "" && owner != "":
		mb, err := srv.clients.locked(ctx, nodes.NodeID(owner))
		if err != nil {
			return nil, asAPIError(err)
		}
		return mb, nil
	}
	return srv.actor(ctx, client)
}

// clientError explains a failure to use a client id: a context error is
// "no quorum", anything else the id itself (a peer id, say).
func clientError(err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return asAPIError(err)
	}
	return badField("client", "client: %v", err)
}

// lockCommand sends cmd (stamped with mb's client and seq) and returns the
// lock table's result, or the answer a service error calls for.
func (srv *Server) lockCommand(ctx context.Context, r *http.Request, mb *mailbox, cmd lockmgr.Command) (lockmgr.Result, *apiError) {
	ctx, cancel := srv.withTimeout(ctx)
	defer cancel()
	m, err := mb.call(ctx, msgKey{kindLockReply, commandSeq(cmd)}, &locks.Request{Cmd: cmd.Encode(), LeaderOnly: true})
	if err != nil {
		return lockmgr.Result{}, asAPIError(err)
	}
	rep, ok := m.(*locks.Reply)
	if !ok {
		return lockmgr.Result{}, asAPIError(fmt.Errorf("unexpected answer %s", nodes.TypeName(m.Type())))
	}
	switch rep.Service {
	case nodes.ServiceOK:
		return rep.Result, nil
	case nodes.ServiceNotLeader:
		return lockmgr.Result{}, srv.redirect(r, rep.Leader)
	case nodes.ServiceNoQuorum:
		return lockmgr.Result{}, noQuorum("the lock group has no leader")
	case nodes.ServiceBadRequest:
		return lockmgr.Result{}, badField("", "%s", rep.Detail)
	}
	return lockmgr.Result{}, busy(rep.Service.String() + " " + rep.Detail)
}

// commandSeq returns a client command's sequence number.
func commandSeq(cmd lockmgr.Command) uint64 {
	switch c := cmd.(type) {
	case lockmgr.OpenSession:
		return c.Seq
	case lockmgr.KeepAlive:
		return c.Seq
	case lockmgr.CloseSession:
		return c.Seq
	case lockmgr.Acquire:
		return c.Seq
	case lockmgr.Release:
		return c.Seq
	}
	return 0
}

// seqFor returns the caller's seq if it named one, else a fresh one.
func (srv *Server) seqFor(callerSeq uint64) uint64 {
	if callerSeq != 0 {
		return callerSeq
	}
	return srv.clients.seq.next()
}

// openSession opens a session of ttl as mb's client.
func (srv *Server) openSession(ctx context.Context, r *http.Request, mb *mailbox, seq uint64, ttl time.Duration) (lockmgr.SessionID, *apiError) {
	res, e := srv.lockCommand(ctx, r, mb, lockmgr.OpenSession{Client: lockmgr.ClientID(mb.id), Seq: seq, TTL: ttl})
	if e != nil {
		return 0, e
	}
	if res.Status == lockmgr.StatusRejected {
		return 0, lockError(res.Err)
	}
	return res.Session, nil
}

// closeQuietly closes a session this server opened for a request that did
// not get its lock, so that it holds nothing until its TTL runs out. Best
// effort, bounded: the session expires anyway.
func (srv *Server) closeQuietly(r *http.Request, mb *mailbox, held bool, sid lockmgr.SessionID) {
	ctx, cancel := context.WithTimeout(context.Background(), min(srv.s.RequestTimeout, time.Second))
	defer cancel()
	if !held {
		if err := mb.lock(ctx); err != nil {
			return
		}
	}
	defer func() {
		if !held {
			mb.unlock()
		}
	}()
	cmd := lockmgr.CloseSession{Client: lockmgr.ClientID(mb.id), Seq: srv.clients.seq.next(), Session: sid}
	if _, e := srv.lockCommand(ctx, r, mb, cmd); e != nil {
		srv.s.Logger.Debug("closing an unused session failed", "session", uint64(sid), "err", e.msg)
	}
}
