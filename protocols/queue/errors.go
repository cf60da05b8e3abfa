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
)

// errorCodes lists the sentinels; a sentinel's code is its index + 1.
var errorCodes = []error{
	ErrInvalidClient, ErrInvalidSeq, ErrStaleSequence, ErrInvalidQueue,
	ErrPayloadTooLarge, ErrInvalidVisibility, ErrInvalidDedupID, ErrUnknownReceipt,
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

// errorCode returns the code and message of err (0 and "" for nil).
func errorCode(err error) (uint8, string) {
	if err == nil {
		return 0, ""
	}
	for i, s := range errorCodes {
		if errors.Is(err, s) {
			return uint8(i + 1), err.Error()
		}
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
