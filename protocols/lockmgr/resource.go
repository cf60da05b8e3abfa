package lockmgr

import (
	"fmt"
	"slices"
	"time"
)

// holder is one held lock: the session and its fencing token. The mode is
// the resource's: all holders of a resource hold it in the same mode.
type holder struct {
	session SessionID
	token   Token
}

// waiter is one queued Acquire.
type waiter struct {
	session SessionID
	request uint64        // log index of the Acquire
	timeout time.Duration // > 0 for a Timeout wait, 0 for Forever
	mode    Mode
}

// policy returns the wait policy the waiter was queued with.
func (w waiter) policy() WaitPolicy {
	if w.timeout > 0 {
		return WaitPolicy{Kind: Timeout, Timeout: w.timeout}
	}
	return WaitPolicy{Kind: Forever}
}

// resource is the lock state of one resource. It exists only while the
// resource has at least one holder (a waiter always waits behind a holder),
// and is laid out for the common case of one holder and no waiters: that
// holder is inline, and the rest lives in ext, allocated only under
// contention. The mode shares a word with the first holder's token (tokens
// are log indexes, below 1<<63, which Apply asserts), so a held lock is a
// 24-byte object plus its map entry and name.
type resource struct {
	session SessionID   // the first holder's session, 0 while there is none
	word    uint64      // the first holder's token | exclusiveBit
	ext     *contention // nil unless a second holder or a waiter exists
}

// exclusiveBit is the bit of resource.word that says the mode is Exclusive;
// the other bits are the first holder's token.
const exclusiveBit = 1 << 63

// newResource returns a resource without holders, in mode.
func newResource(mode Mode) *resource {
	r := &resource{}
	r.setMode(mode)
	return r
}

// mode returns the mode all holders hold the resource in.
func (r *resource) mode() Mode {
	if r.word&exclusiveBit != 0 {
		return Exclusive
	}
	return Shared
}

// setMode sets the mode, keeping the first holder's token.
func (r *resource) setMode(m Mode) {
	r.word &^= exclusiveBit
	if m == Exclusive {
		r.word |= exclusiveBit
	}
}

// setFirst sets the first holder, keeping the mode.
func (r *resource) setFirst(h holder) {
	r.session = h.session
	r.word = r.word&exclusiveBit | uint64(h.token)
}

// contention holds the second and later holders (in grant order) and the
// FIFO wait queue.
type contention struct {
	holders []holder
	queue   []waiter
}

// numHolders returns the number of holders.
func (r *resource) numHolders() int {
	n := 0
	if r.session != 0 {
		n = 1
	}
	if r.ext != nil {
		n += len(r.ext.holders)
	}
	return n
}

// holderAt returns the i-th holder in grant order.
func (r *resource) holderAt(i int) holder {
	if i == 0 {
		return holder{session: r.session, token: Token(r.word &^ exclusiveBit)}
	}
	return r.ext.holders[i-1]
}

// holderIndex returns the position of session among the holders, or -1.
func (r *resource) holderIndex(s SessionID) int {
	for i := range r.numHolders() {
		if r.holderAt(i).session == s {
			return i
		}
	}
	return -1
}

// maxToken returns the largest token of the holders: the resource's last
// fencing token, since every grant's token is above all earlier ones.
func (r *resource) maxToken() Token {
	var t Token
	for i := range r.numHolders() {
		t = max(t, r.holderAt(i).token)
	}
	return t
}

// addHolder appends h to the holders.
func (r *resource) addHolder(h holder) {
	if r.session == 0 {
		r.setFirst(h)
		return
	}
	if r.ext == nil {
		r.ext = &contention{}
	}
	r.ext.holders = append(r.ext.holders, h)
}

// setToken replaces the token of the i-th holder (an upgrade).
func (r *resource) setToken(i int, t Token) {
	if i == 0 {
		r.setFirst(holder{session: r.session, token: t})
		return
	}
	r.ext.holders[i-1].token = t
}

// removeHolder removes the i-th holder, keeping grant order.
func (r *resource) removeHolder(i int) {
	if i == 0 {
		r.setFirst(holder{})
		if r.ext != nil && len(r.ext.holders) > 0 {
			r.setFirst(r.ext.holders[0])
			r.ext.holders = slices.Delete(r.ext.holders, 0, 1)
		}
	} else {
		r.ext.holders = slices.Delete(r.ext.holders, i-1, i)
	}
	r.shrink()
}

// queue returns the FIFO wait queue (nil when empty).
func (r *resource) queue() []waiter {
	if r.ext == nil {
		return nil
	}
	return r.ext.queue
}

// insertWaiter puts w at position i of the queue.
func (r *resource) insertWaiter(i int, w waiter) {
	if r.ext == nil {
		r.ext = &contention{}
	}
	r.ext.queue = slices.Insert(r.ext.queue, i, w)
}

// removeWaiter removes the i-th waiter.
func (r *resource) removeWaiter(i int) {
	r.ext.queue = slices.Delete(r.ext.queue, i, i+1)
	r.shrink()
}

// waiterIndex returns the position of session's waiter, or -1.
func (r *resource) waiterIndex(s SessionID) int {
	for i, w := range r.queue() {
		if w.session == s {
			return i
		}
	}
	return -1
}

// upgrades returns the number of waiters at the head of the queue that are
// upgrades (their session already holds the resource in shared mode).
// Upgrades are queued there, ahead of ordinary waiters: see acquire.
func (r *resource) upgrades() int {
	n := 0
	for _, w := range r.queue() {
		if r.holderIndex(w.session) < 0 {
			break
		}
		n++
	}
	return n
}

// shrink frees ext once it holds nothing.
func (r *resource) shrink() {
	if r.ext == nil {
		return
	}
	if len(r.ext.holders) == 0 && len(r.ext.queue) == 0 {
		r.ext = nil
		return
	}
	if len(r.ext.holders) == 0 {
		r.ext.holders = nil
	}
	if len(r.ext.queue) == 0 {
		r.ext.queue = nil
	}
}

// grantable reports whether session may take the resource in mode now,
// ignoring the queue: every other holder must be compatible.
func (r *resource) grantable(s SessionID, mode Mode) bool {
	for i := range r.numHolders() {
		if r.holderAt(i).session != s && conflicts(mode, r.mode()) {
			return false
		}
	}
	return true
}

// describe summarizes the resource's state for error messages.
func (r *resource) describe() string {
	return fmt.Sprintf("held %v by %d session(s), %d waiting", r.mode(), r.numHolders(), len(r.queue()))
}
