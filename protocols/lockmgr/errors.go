package lockmgr

import (
	"errors"
	"fmt"
)

// The sentinel errors. A Result's or an Event's Err wraps exactly one of
// them, with the command, field and value at fault in its message; test with
// errors.Is. Their order is part of the snapshot format (see errorCodes):
// append new ones, never reorder.
var (
	// ErrInvalidClient: the client id is empty or longer than
	// MaxClientBytes.
	ErrInvalidClient = errors.New("invalid client id")
	// ErrInvalidSeq: a client command carries sequence number 0 (sequence
	// numbers start at 1).
	ErrInvalidSeq = errors.New("invalid sequence number")
	// ErrStaleSequence: the client already had a later command applied;
	// this one is an old duplicate and is not applied.
	ErrStaleSequence = errors.New("stale sequence number")
	// ErrInvalidResource: the resource name is empty or longer than
	// MaxResourceBytes.
	ErrInvalidResource = errors.New("invalid resource")
	// ErrInvalidMode: the mode is neither Shared nor Exclusive.
	ErrInvalidMode = errors.New("invalid mode")
	// ErrInvalidWait: the wait policy's kind is unknown, or its timeout is
	// out of range for its kind.
	ErrInvalidWait = errors.New("invalid wait policy")
	// ErrInvalidTTL: the session TTL is not in (0, Config.MaxTTL].
	ErrInvalidTTL = errors.New("invalid TTL")
	// ErrUnknownSession: no live session has this id.
	ErrUnknownSession = errors.New("unknown session")
	// ErrNotSessionOwner: the session belongs to another client.
	ErrNotSessionOwner = errors.New("session belongs to another client")
	// ErrTooManySessions: Config.MaxSessions sessions are live.
	ErrTooManySessions = errors.New("too many sessions")
	// ErrTooManyLocks: the session holds Config.MaxLocksPerSession locks.
	ErrTooManyLocks = errors.New("too many locks held by the session")
	// ErrQueueFull: the resource has Config.MaxQueueLength waiters.
	ErrQueueFull = errors.New("wait queue full")
	// ErrAlreadyWaiting: the session already has a queued Acquire; a
	// session waits for one lock at a time.
	ErrAlreadyWaiting = errors.New("session already waiting")
	// ErrWouldBlock: a NoWait Acquire found the lock taken or contended.
	ErrWouldBlock = errors.New("lock would block")
	// ErrNotHolder: Release by a session that does not hold the lock.
	ErrNotHolder = errors.New("not the lock holder")
	// ErrNotWaiting: CancelWait for a request that is no longer waiting
	// (granted, aborted, or never queued); nothing changes.
	ErrNotWaiting = errors.New("request not waiting")
	// ErrSessionRenewed: ExpireSession for a session renewed after the
	// leader decided to expire it; the session lives on.
	ErrSessionRenewed = errors.New("session renewed since expiry was decided")
	// ErrDeadlockVictim: the wait closed a cycle in the wait-for graph and
	// was the youngest request in it.
	ErrDeadlockVictim = errors.New("deadlock victim")
	// ErrTimeout: the wait's timeout passed (CancelWait).
	ErrTimeout = errors.New("wait timed out")
	// ErrSessionExpired: the waiting session expired.
	ErrSessionExpired = errors.New("session expired")
	// ErrSessionClosed: the waiting session was closed.
	ErrSessionClosed = errors.New("session closed")
	// ErrReleased: a pending upgrade ended because its session released
	// the shared lock it wanted to upgrade.
	ErrReleased = errors.New("lock released while upgrade waited")
)

// errorCodes maps each sentinel to its code in snapshots (index + 1).
var errorCodes = []error{
	ErrInvalidClient, ErrInvalidSeq, ErrStaleSequence, ErrInvalidResource,
	ErrInvalidMode, ErrInvalidWait, ErrInvalidTTL, ErrUnknownSession,
	ErrNotSessionOwner, ErrTooManySessions, ErrTooManyLocks, ErrQueueFull,
	ErrAlreadyWaiting, ErrWouldBlock, ErrNotHolder, ErrNotWaiting,
	ErrSessionRenewed, ErrDeadlockVictim, ErrTimeout, ErrSessionExpired,
	ErrSessionClosed, ErrReleased,
}

// Error is the error carried by Results and Events: a sentinel and a
// message that names what was wrong. It is a plain value so that it can be
// stored in snapshots and compared between replicas.
type Error struct {
	sentinel error
	msg      string
}

// Error returns the full message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel, so errors.Is(err, ErrWouldBlock) works.
func (e *Error) Unwrap() error { return e.sentinel }

// newError returns an *Error wrapping sentinel, with the message
// "lockmgr: <context>: <sentinel>".
func newError(sentinel error, format string, args ...any) *Error {
	return &Error{sentinel: sentinel, msg: "lockmgr: " + fmt.Sprintf(format, args...) + ": " + sentinel.Error()}
}

// fieldError returns the error for a bad field: "lockmgr: <Cmd>.<Field> =
// <value>: <sentinel> (<why>)".
func fieldError(sentinel error, cmd, field string, value any, why string) *Error {
	if s, ok := value.(string); ok {
		value = fmt.Sprintf("%q", s)
	}
	e := newError(sentinel, "%s.%s = %v", cmd, field, value)
	if why != "" {
		e.msg += " (" + why + ")"
	}
	return e
}

// errorCode returns the snapshot code of an *Error's sentinel, 0 for nil.
// Results and Events only ever carry *Error values built by this package,
// so any other error is an impossible state.
func errorCode(err error) (uint8, string) {
	if err == nil {
		return 0, ""
	}
	var e *Error
	if !errors.As(err, &e) {
		panic(fmt.Sprintf("lockmgr: result error %T %q is not a *lockmgr.Error", err, err))
	}
	for i, s := range errorCodes {
		if s == e.sentinel {
			return uint8(i + 1), e.msg
		}
	}
	panic(fmt.Sprintf("lockmgr: error %q wraps an unlisted sentinel", e.msg))
}

// errorFromCode rebuilds an *Error from its snapshot form.
func errorFromCode(code uint8, msg string) (error, error) {
	if code == 0 {
		if msg != "" {
			return nil, fmt.Errorf("%w: message %q without an error code", ErrMalformed, msg)
		}
		return nil, nil
	}
	if int(code) > len(errorCodes) {
		return nil, fmt.Errorf("%w: unknown error code %d", ErrMalformed, code)
	}
	return &Error{sentinel: errorCodes[code-1], msg: msg}, nil
}

// ErrorCode returns the wire code and message of a Result or Event error,
// so a node can send it to a client; code 0 means no error. It panics if
// err is not a *Error, since every error the Manager returns is one.
func ErrorCode(err error) (code uint8, msg string) { return errorCode(err) }

// ErrorFromCode rebuilds an error sent as ErrorCode's pair: errors.Is works
// on the result as on the original. An unknown code is ErrMalformed.
func ErrorFromCode(code uint8, msg string) (error, error) { return errorFromCode(code, msg) }
