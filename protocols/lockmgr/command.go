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
	e := newEncoder(32 + len(client))
	e.Byte(uint8(k))
	e.String(string(client))
	e.Uint(seq)
	return e
}

// Encode implements Command.
func (c OpenSession) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.Duration(c.TTL)
	return e.Bytes()
}

// Encode implements Command.
func (c KeepAlive) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.Uint(uint64(c.Session))
	return e.Bytes()
}

// Encode implements Command.
func (c CloseSession) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.Uint(uint64(c.Session))
	return e.Bytes()
}

// Encode implements Command.
func (c Acquire) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.Uint(uint64(c.Session))
	e.String(string(c.Resource))
	e.Byte(uint8(c.Mode))
	e.Byte(uint8(c.Wait.Kind))
	e.Duration(c.Wait.Timeout)
	return e.Bytes()
}

// Encode implements Command.
func (c Release) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq)
	e.Uint(uint64(c.Session))
	e.String(string(c.Resource))
	return e.Bytes()
}

// Encode implements Command.
func (c CancelWait) Encode() []byte {
	e := newEncoder(24 + len(c.Resource))
	e.Byte(uint8(c.kind()))
	e.Uint(uint64(c.Session))
	e.String(string(c.Resource))
	e.Uint(c.RequestIndex)
	return e.Bytes()
}

// Encode implements Command.
func (c ExpireSession) Encode() []byte {
	e := newEncoder(24)
	e.Byte(uint8(c.kind()))
	e.Uint(uint64(c.Session))
	e.Uint(c.LastRenewal)
	return e.Bytes()
}

// DecodeCommand reads a command written by Encode. It accepts only the
// canonical encoding (so decoding then encoding returns the input), bounds
// every string by MaxWireString, and never panics: any other input is an
// error wrapping ErrMalformed. Field values are not validated here (a mode
// of 7 decodes); Apply rejects them with an error naming the field, the
// same way on every replica.
func DecodeCommand(b []byte) (Command, error) {
	d := newDecoder(b, 0)
	cmd := decodeBody(d, commandKind(d.Byte()))
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// decodeBody reads the fields of a command of kind k.
func decodeBody(d *decoder, k commandKind) Command {
	switch k {
	case kindOpenSession:
		return OpenSession{Client: ClientID(d.String()), Seq: d.Uint(), TTL: d.Duration()}
	case kindKeepAlive:
		return KeepAlive{Client: ClientID(d.String()), Seq: d.Uint(), Session: SessionID(d.Uint())}
	case kindCloseSession:
		return CloseSession{Client: ClientID(d.String()), Seq: d.Uint(), Session: SessionID(d.Uint())}
	case kindAcquire:
		return Acquire{
			Client: ClientID(d.String()), Seq: d.Uint(), Session: SessionID(d.Uint()),
			Resource: Resource(d.String()), Mode: Mode(d.Byte()),
			Wait: WaitPolicy{Kind: WaitKind(d.Byte()), Timeout: d.Duration()},
		}
	case kindRelease:
		return Release{Client: ClientID(d.String()), Seq: d.Uint(), Session: SessionID(d.Uint()), Resource: Resource(d.String())}
	case kindCancelWait:
		return CancelWait{Session: SessionID(d.Uint()), Resource: Resource(d.String()), RequestIndex: d.Uint()}
	case kindExpireSession:
		return ExpireSession{Session: SessionID(d.Uint()), LastRenewal: d.Uint()}
	}
	d.FailAt(d.Pos()-1, "unknown command kind %d", k)
	return nil
}
