package lockmgr

import (
	"fmt"
	"slices"
)

// openSession applies an OpenSession: the new session's id is the index.
func (m *Manager) openSession(c OpenSession) Result {
	if c.TTL <= 0 || c.TTL > m.cfg.MaxTTL {
		return rejected(fieldError(ErrInvalidTTL, "OpenSession", "TTL", c.TTL,
			fmt.Sprintf("must be in (0, %v]", m.cfg.MaxTTL)))
	}
	if len(m.sessions) >= m.cfg.MaxSessions {
		return rejected(fieldError(ErrTooManySessions, "OpenSession", "Client", string(c.Client),
			fmt.Sprintf("%d sessions live, the limit", len(m.sessions))))
	}
	sid := SessionID(m.index)
	m.sessions[sid] = &session{client: c.Client, ttl: c.TTL, renewed: m.index}
	m.clientGained(c.Client)
	m.stats.Sessions++
	return Result{Status: StatusOK, Session: sid}
}

// keepAlive applies a KeepAlive.
func (m *Manager) keepAlive(c KeepAlive) Result {
	s, err := m.ownedSession("KeepAlive", c.Client, c.Session)
	if err != nil {
		return rejected(err)
	}
	s.renewed = m.index
	return Result{Status: StatusOK}
}

// closeSession applies a CloseSession.
func (m *Manager) closeSession(c CloseSession) Result {
	if _, err := m.ownedSession("CloseSession", c.Client, c.Session); err != nil {
		return rejected(err)
	}
	m.endSession(c.Session, ErrSessionClosed)
	return Result{Status: StatusOK}
}

// expireSession applies an ExpireSession.
func (m *Manager) expireSession(c ExpireSession) Result {
	s := m.sessions[c.Session]
	if s == nil {
		return rejected(fieldError(ErrUnknownSession, "ExpireSession", "Session", c.Session, ""))
	}
	if c.LastRenewal != 0 && c.LastRenewal != s.renewed {
		return rejected(fieldError(ErrSessionRenewed, "ExpireSession", "LastRenewal", c.LastRenewal,
			fmt.Sprintf("session %d was last renewed at index %d", c.Session, s.renewed)))
	}
	m.endSession(c.Session, ErrSessionExpired)
	m.stats.Expired++
	return Result{Status: StatusOK}
}

// endSession aborts the session's wait (with cause), releases its locks in
// resource order, grants what that frees, and forgets the session.
func (m *Manager) endSession(sid SessionID, cause error) {
	s := m.sessions[sid]
	if s.waitRes != "" {
		m.abortWait(sid, cause)
	}
	for _, name := range slices.Clone(s.held) {
		m.unhold(name, sid)
	}
	m.drain()
	delete(m.sessions, sid)
	m.stats.Sessions--
	m.clientLost(s.client)
}

// ownedSession returns the live session sid, checking that it belongs to
// client id.
func (m *Manager) ownedSession(cmd string, id ClientID, sid SessionID) (*session, *Error) {
	s := m.sessions[sid]
	if s == nil {
		return nil, fieldError(ErrUnknownSession, cmd, "Session", sid, "")
	}
	if s.client != id {
		return nil, fieldError(ErrNotSessionOwner, cmd, "Session", sid, fmt.Sprintf("owned by client %q", s.client))
	}
	return s, nil
}

// Validate runs the checks of cmd that do not depend on the table (field
// formats and ranges), the very ones Apply runs first. A node can call it
// before proposing, to answer a malformed request at once instead of
// spending a log entry on it. A nil result does not mean Apply will
// succeed.
func (m *Manager) Validate(cmd Command) error {
	var err *Error
	switch c := cmd.(type) {
	case OpenSession:
		err = validateClient("OpenSession", c.Client, c.Seq)
		if err == nil && (c.TTL <= 0 || c.TTL > m.cfg.MaxTTL) {
			err = fieldError(ErrInvalidTTL, "OpenSession", "TTL", c.TTL, fmt.Sprintf("must be in (0, %v]", m.cfg.MaxTTL))
		}
	case KeepAlive:
		err = validateClient("KeepAlive", c.Client, c.Seq)
	case CloseSession:
		err = validateClient("CloseSession", c.Client, c.Seq)
	case Acquire:
		err = validateClient("Acquire", c.Client, c.Seq)
		if err == nil {
			err = m.validateAcquire(c)
		}
	case Release:
		err = validateClient("Release", c.Client, c.Seq)
		if err == nil {
			err = validateResource("Release", c.Resource)
		}
	case CancelWait, ExpireSession:
	default:
		panic(fmt.Sprintf("lockmgr: validate: unknown command type %T", cmd))
	}
	if err != nil {
		return err
	}
	return nil
}

// validateClient checks the client id and sequence number of a client
// command.
func validateClient(cmd string, id ClientID, seq uint64) *Error {
	if len(id) == 0 || len(id) > MaxClientBytes {
		return fieldError(ErrInvalidClient, cmd, "Client", string(id), fmt.Sprintf("must be 1..%d bytes, is %d", MaxClientBytes, len(id)))
	}
	if seq == 0 {
		return fieldError(ErrInvalidSeq, cmd, "Seq", seq, "sequence numbers start at 1")
	}
	return nil
}

// validateResource checks a resource name.
func validateResource(cmd string, r Resource) *Error {
	if len(r) == 0 || len(r) > MaxResourceBytes {
		return fieldError(ErrInvalidResource, cmd, "Resource", string(r), fmt.Sprintf("must be 1..%d bytes, is %d", MaxResourceBytes, len(r)))
	}
	return nil
}

// validateAcquire checks an Acquire's resource, mode and wait policy.
func (m *Manager) validateAcquire(c Acquire) *Error {
	if err := validateResource("Acquire", c.Resource); err != nil {
		return err
	}
	if !c.Mode.valid() {
		return fieldError(ErrInvalidMode, "Acquire", "Mode", uint8(c.Mode), "want Shared (1) or Exclusive (2)")
	}
	switch c.Wait.Kind {
	case NoWait, Forever:
		if c.Wait.Timeout != 0 {
			return fieldError(ErrInvalidWait, "Acquire", "Wait.Timeout", c.Wait.Timeout,
				fmt.Sprintf("must be 0 with wait kind %v", c.Wait.Kind))
		}
	case Timeout:
		if c.Wait.Timeout <= 0 || c.Wait.Timeout > m.cfg.MaxWaitTimeout {
			return fieldError(ErrInvalidWait, "Acquire", "Wait.Timeout", c.Wait.Timeout,
				fmt.Sprintf("must be in (0, %v]", m.cfg.MaxWaitTimeout))
		}
	default:
		return fieldError(ErrInvalidWait, "Acquire", "Wait.Kind", uint8(c.Wait.Kind), "want NoWait (0), Forever (1) or Timeout (2)")
	}
	return nil
}
