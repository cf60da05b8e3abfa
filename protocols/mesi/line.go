package mesi

import (
	"fmt"
	"time"
)

// State is the stable MESI state of a cache line.
type State uint8

// The four stable states of a line. Invalid lines are never stored in a
// Cache: a line is Invalid exactly when its key is absent.
const (
	// Invalid: the node holds no usable copy.
	Invalid State = iota
	// Shared: a read-only copy; other nodes may hold Shared copies too.
	Shared
	// Exclusive: the only copy, clean (equal to the home's memory); a write
	// turns it Modified without any message.
	Exclusive
	// Modified: the only copy, dirty; memory is stale until it is written
	// back.
	Modified
)

// String returns "I", "S", "E" or "M".
func (s State) String() string {
	switch s {
	case Invalid:
		return "I"
	case Shared:
		return "S"
	case Exclusive:
		return "E"
	case Modified:
		return "M"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// valid reports whether s is one of the four states.
func (s State) valid() bool { return s <= Modified }

// Line is one cached key: its value, state and version, and the virtual
// times at which it was filled and last used (supplied by the caller).
type Line struct {
	// Key is the cached key.
	Key string
	// Value is the cached value; the line owns it and nobody mutates it.
	Value []byte
	// State is the line's MESI state; never Invalid inside a Cache.
	State State
	// Version is the version of Value (see the package doc, "Versions").
	Version uint64
	// Filled is the virtual time the line entered the cache.
	Filled time.Duration
	// Used is the virtual time of the line's last hit.
	Used time.Duration

	// grant is the home's ownership grant under which the line is E or M
	// (0 for S lines); txn the cache transaction that obtained it.
	grant, txn uint64
}
