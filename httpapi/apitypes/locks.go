package apitypes

// AcquireRequest is the body of POST /locks/acquire.
type AcquireRequest struct {
	// Resource is the lock's name (1..lockmgr.MaxResourceBytes bytes).
	Resource string `json:"resource"`
	// Mode is ModeExclusive or ModeShared.
	Mode string `json:"mode"`
	// Session is the session to acquire on; 0 opens one (its TTL: TTL),
	// closed again if the lock is not granted.
	Session uint64 `json:"session,omitempty"`
	// TTL is a new session's TTL ("30s"); only without Session.
	TTL *string `json:"ttl,omitempty"`
	// Wait is how long to queue for the lock; "0s" is a try-lock. Default:
	// the server's request timeout, or its maximum wait if shorter.
	Wait *string `json:"wait,omitempty"`
	// Client and Seq, both or neither, name the caller's own client and a
	// growing sequence number (>= 1), so that a retry with the same pair
	// is applied at most once. They need a Session.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// SessionRequest is the body of the other lock commands: release
// (Session, Resource), renew and session/close (Session), and session
// open (TTL).
type SessionRequest struct {
	// Session is the session the command is about (not for an open).
	Session uint64 `json:"session,omitempty"`
	// Resource is the lock to release (release only).
	Resource string `json:"resource,omitempty"`
	// TTL is a new session's TTL ("30s"; session open only).
	TTL *string `json:"ttl,omitempty"`
	// Client and Seq: see AcquireRequest.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// AcquireReply is the answer to a granted acquire.
type AcquireReply struct {
	// Granted is always true: a lock not granted is an error answer.
	Granted bool `json:"granted"`
	// Token is the fencing token of the grant.
	Token uint64 `json:"token"`
	// Session is the session holding the lock (opened by the acquire if
	// the request named none).
	Session uint64 `json:"session"`
	// Client and Seq are the client and sequence number the node applied
	// the acquire as.
	Client   string `json:"client"`
	Seq      uint64 `json:"seq"`
	Resource string `json:"resource"` // the lock granted
	Mode     string `json:"mode"`     // ModeExclusive or ModeShared
}

// SessionReply is the answer to a release, a renew and a session close.
type SessionReply struct {
	// Client and Seq are those the command ran as (the session's owner).
	Client  string `json:"client"`
	OK      bool   `json:"ok"` // always true
	Seq     uint64 `json:"seq"`
	Session uint64 `json:"session"` // the session the command was about
}

// OpenSessionReply is the answer to POST /locks/session.
type OpenSessionReply struct {
	// Client owns the session; Seq is the sequence number of the open.
	Client  string `json:"client"`
	Seq     uint64 `json:"seq"`
	Session uint64 `json:"session"` // the new session's id
	// TTL is the session's TTL ("10s"); renew it within that time.
	TTL string `json:"ttl"`
}

// LockState is the answer to GET /locks/{resource}: who holds the lock
// and who waits for it, read linearizably by the leader.
type LockState struct {
	Holders  []LockHolder `json:"holders"`  // the sessions holding the lock (never null)
	Resource string       `json:"resource"` // the lock's name
	Waiters  []LockWaiter `json:"waiters"`  // the sessions queued for it, first first (never null)
}

// LockHolder is a session holding a lock.
type LockHolder struct {
	Client  string `json:"client"`  // the session's owner
	Mode    string `json:"mode"`    // ModeExclusive or ModeShared
	Session uint64 `json:"session"` // the holding session
	Token   uint64 `json:"token"`   // the fencing token of the grant
}

// LockWaiter is a session queued for a lock.
type LockWaiter struct {
	Client string `json:"client"` // the session's owner
	Mode   string `json:"mode"`   // ModeExclusive or ModeShared
	// Request is the id of the queued acquire.
	Request uint64 `json:"request"`
	Session uint64 `json:"session"` // the waiting session
}
