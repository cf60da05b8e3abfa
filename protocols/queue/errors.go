package queue

import (
	"errors"
	"fmt"
)

// The sentinel errors. A Result's Err wraps exactly one of them; test with
// errors.Is. Their order is part of the snapshot format: append, never
// reorder.
var (
	// ErrInvalidClient: the client id is empty or too long.
	ErrInvalidClient = errors.New("invalid client id")
	// ErrInvalidSeq: a client command carries sequence number 0.
	ErrInvalidSeq = errors.New("invalid sequence number")
	// ErrStaleSequence: the client already had a later command applied.
	ErrStaleSequence = errors.New("stale sequence number")
	// ErrInvalidQueue: the queue name is empty or longer than MaxNameBytes.
	ErrInvalidQueue = errors.New("invalid queue name")
	// ErrPayloadTooLarge: the payload exceeds Config.MaxPayload.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrInvalidVisibility: the visibility timeout is not in
	// (0, MaxVisibility].
	ErrInvalidVisibility = errors.New("invalid visibility timeout")
	// ErrInvalidDedupID: the DedupID is longer than MaxNameBytes.
	ErrInvalidDedupID = errors.New("invalid dedup id")
	// ErrUnknownReceipt: no delivery in flight holds the receipt: it never
	// existed, the message was acked or nacked, or its visibility expired
	// and it was (or will be) delivered again under a new receipt.
	ErrUnknownReceipt = errors.New("unknown or superseded receipt")
	// ErrMoved: the queue was sealed (Seal) because it moved to another
	// placement; send the command to the new one.
	ErrMoved = errors.New("queue moved")
	// ErrImportGap: an Import chunk is beyond the next one its source must
	// send; the Result's ID is the expected chunk.
	ErrImportGap = errors.New("import chunk out of order")
	// ErrInvalidImport: an Import is inconsistent: a bad Source, queue
	// name, id, client or order, a chunk after its source's last, or too
	// many unfinished sources.
	ErrInvalidImport = errors.New("invalid import")
	// ErrQueueFull: an Enqueue would take the partition above
	// Config.MaxBytes payload bytes or Config.MaxMessages messages. Send
	// it again once consumers have acked some, under a new Seq: like every
	// rejection, it is the client's cached Result for this Seq.
	ErrQueueFull = errors.New("queue full")
)

// errorCodes lists the sentinels; a sentinel's code is its index + 1.
var errorCodes = []error{
	ErrInvalidClient, ErrInvalidSeq, ErrStaleSequence, ErrInvalidQueue,
	ErrPayloadTooLarge, ErrInvalidVisibility, ErrInvalidDedupID, ErrUnknownReceipt,
	ErrMoved, ErrImportGap, ErrInvalidImport, ErrQueueFull,
}

// Error is a rejected command's error: a sentinel and a message naming the
// command, field and value at fault.
type Error struct {
	sentinel error
	msg      string
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.sentinel }

// fieldError returns "queue: <Cmd>.<Field> = <value>: <sentinel>[: why]".
func fieldError(sentinel error, cmd, field string, value any, why string) *Error {
	msg := fmt.Sprintf("queue: %s.%s = %v: %v", cmd, field, value, sentinel)
	if why != "" {
		msg += ": " + why
	}
	return &Error{sentinel: sentinel, msg: msg}
}

// movedError is the rejection of a command applied after a Seal.
func movedError(cmd string, epoch uint64) *Error {
	return &Error{sentinel: ErrMoved, msg: fmt.Sprintf("queue: %s: %v at epoch %d: send it to the queue's new placement", cmd, ErrMoved, epoch)}
}

// sentinelOf returns the code of the sentinel err wraps, or false if it
// wraps none (errorCode would panic on it).
func sentinelOf(err error) (uint8, bool) {
	for i, s := range errorCodes {
		if errors.Is(err, s) {
			return uint8(i + 1), true
		}
	}
	return 0, false
}

// errorCode returns the code and message of err (0 and "" for nil).
func errorCode(err error) (uint8, string) {
	if err == nil {
		return 0, ""
	}
	if code, ok := sentinelOf(err); ok {
		return code, err.Error()
	}
	panic(fmt.Sprintf("queue: error without a sentinel: %v", err))
}

// errorFromCode rebuilds an error written by errorCode.
func errorFromCode(code uint8, msg string) (error, error) {
	if code == 0 {
		if msg != "" {
			return nil, fmt.Errorf("error message without a code")
		}
		return nil, nil
	}
	if int(code) > len(errorCodes) {
		return nil, fmt.Errorf("unknown error code %d", code)
	}
	return &Error{sentinel: errorCodes[code-1], msg: msg}, nil
}
