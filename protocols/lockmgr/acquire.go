package lockmgr

import "fmt"

// acquire applies an Acquire.
//
// Rules, in order:
//   - A holder asking again in its mode, or for Shared while it holds
//     Exclusive, gets its existing token back (idempotent; no downgrade).
//   - A shared holder asking for Exclusive (an upgrade) is granted at once,
//     with a new token, if it is the only holder. Otherwise it queues (or
//     fails with ErrWouldBlock under NoWait) ahead of the ordinary waiters,
//     behind earlier upgrades: every ordinary waiter already waits for the
//     upgrader's shared lock, so queuing it at the tail would deadlock it
//     against every exclusive waiter at once.
//   - Anyone else is granted at once if the resource is free, or if both
//     the request and the holders are Shared and nobody is queued (no
//     barging past a queued exclusive request). Otherwise it queues at the
//     tail, or fails with ErrWouldBlock under NoWait.
//
// A queued request gets wait-for edges to every conflicting holder and
// earlier conflicting waiter. If they close a cycle, the youngest request
// in it is aborted with ErrDeadlockVictim. Every such cycle runs through
// this request, the newest waiting one, so it is the victim: its Result is
// the rejection and the table is left as it was.
func (m *Manager) acquire(c Acquire) Result {
	if err := m.validateAcquire(c); err != nil {
		return rejected(err)
	}
	s, err := m.ownedSession("Acquire", c.Client, c.Session)
	if err != nil {
		return rejected(err)
	}
	r := m.resources[c.Resource]
	if r != nil {
		if i := r.holderIndex(c.Session); i >= 0 {
			return m.reacquire(c, r, i)
		}
	}
	if r == nil || (len(r.queue()) == 0 && r.grantable(c.Session, c.Mode)) {
		if len(s.held) >= m.cfg.MaxLocksPerSession {
			return rejected(fieldError(ErrTooManyLocks, "Acquire", "Session", c.Session,
				fmt.Sprintf("holds %d locks, the limit", len(s.held))))
		}
		return m.grantNow(c)
	}
	if len(s.held) >= m.cfg.MaxLocksPerSession {
		return rejected(fieldError(ErrTooManyLocks, "Acquire", "Session", c.Session,
			fmt.Sprintf("holds %d locks, the limit", len(s.held))))
	}
	return m.wait(c, s, r, len(r.queue()))
}

// reacquire handles an Acquire by a session that already holds the
// resource (the i-th holder).
func (m *Manager) reacquire(c Acquire, r *resource, i int) Result {
	h := r.holderAt(i)
	if r.mode() == Exclusive || c.Mode == Shared {
		return Result{Status: StatusGranted, Token: h.token, Request: m.index}
	}
	if r.numHolders() == 1 {
		return m.grantNow(c)
	}
	s := m.sessions[c.Session]
	return m.wait(c, s, r, r.upgrades())
}

// grantNow grants an Acquire at its own index. The only immediate grant
// on a resource with waiters is the upgrade of a sole shared holder; it
// gives the shared waiters an edge to the upgrader, which may close a
// cycle if the upgrader waits elsewhere, so the queue is settled again.
func (m *Manager) grantNow(c Acquire) Result {
	token := m.grant(c.Resource, c.Session, c.Mode)
	if len(m.resources[c.Resource].queue()) > 0 {
		m.markDirty(c.Resource)
		m.drain()
	}
	return Result{Status: StatusGranted, Token: token, Request: m.index}
}

// wait queues an Acquire at position pos of r's queue, unless its policy
// or a bound forbids it, and resolves any deadlock it closes.
func (m *Manager) wait(c Acquire, s *session, r *resource, pos int) Result {
	if c.Wait.Kind == NoWait {
		return rejected(fieldError(ErrWouldBlock, "Acquire", "Resource", string(c.Resource), r.describe()))
	}
	if s.waitRes != "" {
		return rejected(fieldError(ErrAlreadyWaiting, "Acquire", "Session", c.Session,
			fmt.Sprintf("waiting for %q", s.waitRes)))
	}
	if len(r.queue()) >= m.cfg.MaxQueueLength {
		return rejected(fieldError(ErrQueueFull, "Acquire", "Resource", string(c.Resource),
			fmt.Sprintf("%d waiters, the limit", len(r.queue()))))
	}
	m.current = m.index
	m.enqueue(c.Resource, r, pos, waiter{session: c.Session, request: m.index, timeout: c.Wait.Timeout, mode: c.Mode})
	m.drain()
	if m.currentResult != nil {
		return *m.currentResult
	}
	return Result{Status: StatusQueued, Request: m.index}
}

// release applies a Release.
func (m *Manager) release(c Release) Result {
	if err := validateResource("Release", c.Resource); err != nil {
		return rejected(err)
	}
	s, err := m.ownedSession("Release", c.Client, c.Session)
	if err != nil {
		return rejected(err)
	}
	r := m.resources[c.Resource]
	if r == nil || r.holderIndex(c.Session) < 0 {
		return rejected(fieldError(ErrNotHolder, "Release", "Resource", string(c.Resource),
			fmt.Sprintf("session %d holds no lock on it", c.Session)))
	}
	if s.waitRes == c.Resource {
		m.abortWait(c.Session, ErrReleased)
	}
	m.unhold(c.Resource, c.Session)
	m.drain()
	return Result{Status: StatusOK}
}

// cancelWait applies a CancelWait.
func (m *Manager) cancelWait(c CancelWait) Result {
	s := m.sessions[c.Session]
	if s == nil || s.waitRes == "" || s.waitRes != c.Resource {
		return rejected(fieldError(ErrNotWaiting, "CancelWait", "RequestIndex", c.RequestIndex,
			fmt.Sprintf("session %d is not waiting for %q", c.Session, c.Resource)))
	}
	r := m.resources[c.Resource]
	if w := r.queue()[r.waiterIndex(c.Session)]; w.request != c.RequestIndex {
		return rejected(fieldError(ErrNotWaiting, "CancelWait", "RequestIndex", c.RequestIndex,
			fmt.Sprintf("session %d waits for %q with request %d", c.Session, c.Resource, w.request)))
	}
	m.abortWait(c.Session, ErrTimeout)
	m.stats.Timeouts++
	m.drain()
	return Result{Status: StatusOK}
}
