package lockmgr

import "time"

// Command is one lock-table command, as proposed to and applied from the
// Raft log. The set is closed: the concrete types are the structs below.
// Each has a deterministic, canonical binary encoding (Encode), read back
// by DecodeCommand.
type Command interface {
	// Encode returns the canonical encoding: the same command always
	// encodes to the same bytes, and DecodeCommand(c.Encode()) == c.
	Encode() []byte
	// kind returns the command's tag, which seals the interface.
	kind() commandKind
}

// commandKind is the first byte of an encoded command. The values are part
// of the log format: append new ones, never renumber.
type commandKind uint8

const (
	kindOpenSession commandKind = iota + 1
	kindKeepAlive
	kindCloseSession
	kindAcquire
	kindRelease
	kindCancelWait
	kindExpireSession
)

// OpenSession creates a session for Client; the Result's Session is the
// entry's log index. TTL is how long the session lives without a
// KeepAlive, measured by the leader's clock; it must be in
// (0, Config.MaxTTL].
type OpenSession struct {
	Client ClientID
	Seq    uint64
	TTL    time.Duration
}

// KeepAlive renews Session: the leader restarts its TTL timer.
type KeepAlive struct {
	Client  ClientID
	Seq     uint64
	Session SessionID
}

// CloseSession ends Session: its locks are released (waiters behind them
// may be granted) and its waiting Acquire, if any, is aborted with
// ErrSessionClosed.
type CloseSession struct {
	Client  ClientID
	Seq     uint64
	Session SessionID
}

// Acquire asks for Resource in Mode on behalf of Session. The Result is
// Granted (with the fencing token), Queued (an Event reports the end of the
// wait) or Rejected.
type Acquire struct {
	Client   ClientID
	Seq      uint64
	Session  SessionID
	Resource Resource
	Mode     Mode
	Wait     WaitPolicy
}

// Release gives up Session's lock on Resource. A Release by a session that
// does not hold the lock is rejected with ErrNotHolder.
type Release struct {
	Client   ClientID
	Seq      uint64
	Session  SessionID
	Resource Resource
}

// CancelWait is proposed by the leader when the timeout of a waiting
// Acquire passes on its clock. If the request at RequestIndex is still
// waiting, it is aborted with ErrTimeout; otherwise the command changes
// nothing (ErrNotWaiting). It carries no client sequence number: it is
// idempotent by RequestIndex.
type CancelWait struct {
	Session      SessionID
	Resource     Resource
	RequestIndex uint64
}

// ExpireSession is proposed by the leader when Session's TTL passes on its
// clock without a KeepAlive. Replicas never read clocks; they trust the
// entry. LastRenewal is the session's renewal index (SessionInfo.Renewed)
// the leader based its decision on: if the session was renewed after that,
// the expiry is stale and rejected with ErrSessionRenewed. A zero
// LastRenewal expires the session unconditionally.
type ExpireSession struct {
	Session     SessionID
	LastRenewal uint64
}

func (OpenSession) kind() commandKind   { return kindOpenSession }
func (KeepAlive) kind() commandKind     { return kindKeepAlive }
func (CloseSession) kind() commandKind  { return kindCloseSession }
func (Acquire) kind() commandKind       { return kindAcquire }
func (Release) kind() commandKind       { return kindRelease }
func (CancelWait) kind() commandKind    { return kindCancelWait }
func (ExpireSession) kind() commandKind { return kindExpireSession }

// header starts the encoding of a client command.
func header(k commandKind, client ClientID, seq uint64) *encoder {
	e := &encoder{buf: make([]byte, 0, 32+len(client))}
	e.byte(uint8(k))
	e.string(string(client))
	e.uint(seq)
	return e
}

// Encode implements Command.
func (c OpenSession) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.duration(c.TTL)
	return e.buf
}

// Encode implements Command.
func (c KeepAlive) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.uint(uint64(c.Session))
	return e.buf
}

// Encode implements Command.
func (c CloseSession) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.uint(uint64(c.Session))
	return e.buf
}

// Encode implements Command.
func (c Acquire) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.uint(uint64(c.Session))
	e.string(string(c.Resource))
	e.byte(uint8(c.Mode))
	e.byte(uint8(c.Wait.Kind))
	e.duration(c.Wait.Timeout)
	return e.buf
}

// Encode implements Command.
func (c Release) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.uint(uint64(c.Session))
	e.string(string(c.Resource))
	return e.buf
}

// Encode implements Command.
func (c CancelWait) Encode() []byte {
	e := &encoder{buf: make([]byte, 0, 24+len(c.Resource))}
	e.byte(uint8(c.kind()))
	e.uint(uint64(c.Session))
	e.string(string(c.Resource))
	e.uint(c.RequestIndex)
	return e.buf
}

// Encode implements Command.
func (c ExpireSession) Encode() []byte {
	e := &encoder{buf: make([]byte, 0, 24)}
	e.byte(uint8(c.kind()))
	e.uint(uint64(c.Session))
	e.uint(c.LastRenewal)
	return e.buf
}

// DecodeCommand reads a command written by Encode. It accepts only the
// canonical encoding (so decoding then encoding returns the input), bounds
// every string by MaxWireString, and never panics: any other input is an
// error wrapping ErrMalformed. Field values are not validated here (a mode
// of 7 decodes); Apply rejects them with an error naming the field, the
// same way on every replica.
func DecodeCommand(b []byte) (Command, error) {
	d := &decoder{buf: b}
	cmd := decodeBody(d, commandKind(d.byte()))
	if err := d.finish(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// decodeBody reads the fields of a command of kind k.
func decodeBody(d *decoder, k commandKind) Command {
	switch k {
	case kindOpenSession:
		return OpenSession{Client: ClientID(d.string()), Seq: d.uint(), TTL: d.duration()}
	case kindKeepAlive:
		return KeepAlive{Client: ClientID(d.string()), Seq: d.uint(), Session: SessionID(d.uint())}
	case kindCloseSession:
		return CloseSession{Client: ClientID(d.string()), Seq: d.uint(), Session: SessionID(d.uint())}
	case kindAcquire:
		return Acquire{
			Client: ClientID(d.string()), Seq: d.uint(), Session: SessionID(d.uint()),
			Resource: Resource(d.string()), Mode: Mode(d.byte()),
			Wait: WaitPolicy{Kind: WaitKind(d.byte()), Timeout: d.duration()},
		}
	case kindRelease:
		return Release{Client: ClientID(d.string()), Seq: d.uint(), Session: SessionID(d.uint()), Resource: Resource(d.string())}
	case kindCancelWait:
		return CancelWait{Session: SessionID(d.uint()), Resource: Resource(d.string()), RequestIndex: d.uint()}
	case kindExpireSession:
		return ExpireSession{Session: SessionID(d.uint()), LastRenewal: d.uint()}
	}
	if d.err == nil {
		d.pos--
		d.fail("unknown command kind %d", k)
	}
	return nil
}
