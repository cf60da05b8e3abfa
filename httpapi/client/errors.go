package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Codes the client itself gives an *Error (the server's codes are in
// package apitypes).
const (
	// CodeUnreachable: no HTTP answer (a connection error, or an attempt
	// that timed out). Error.Status is 0 and Error.Err is the cause.
	CodeUnreachable = "unreachable"
	// CodeBadAnswer: a 2xx answer whose body is not what the route
	// answers.
	CodeBadAnswer = "bad_answer"
)

// Error is a request that failed: an error answer of the API, or no
// answer at all (Status 0, Code CodeUnreachable). Get it with errors.As.
type Error struct {
	// Method and URL are those of the request that got the answer (the
	// last one, after redirects).
	Method, URL string
	// Status is the HTTP status (0: no answer).
	Status int
	// Code is the API's machine-readable error code ("wait_timeout"), or
	// CodeUnreachable, CodeBadAnswer.
	Code string
	// Field names the request field at fault (a 400's "field").
	Field string
	// Message is the human-readable message (the answer's "error").
	Message string
	// RetryAfter is the answer's Retry-After header (0: none).
	RetryAfter time.Duration
	// Extra holds the other fields of the error answer ("leader",
	// "session", "detail"...), as encoding/json decodes them.
	Extra map[string]any
	// Attempts is how many attempts the request made.
	Attempts int
	// Err is the underlying error when there was no answer.
	Err error
}

// Error implements error: "POST http://h/locks/acquire: 408 wait_timeout:
// message (field "wait")".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, "%s: ", e.Code)
	}
	b.WriteString(e.Message)
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %q)", e.Field)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the underlying error of a request without an answer.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the client retries such a failure: a 503, or
// no answer.
func (e *Error) Retryable() bool {
	return e.Status == http.StatusServiceUnavailable || e.Status == 0 && e.Code == CodeUnreachable
}

// Code returns the code of the *Error in err's chain: the API's code, or
// CodeUnreachable; "canceled" or "deadline" for a context that ended; ""
// for nil, and "error" for any other error.
func Code(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		if e.Code == "" {
			return fmt.Sprintf("http_%d", e.Status)
		}
		return e.Code
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "error"
}

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// StatusOf returns the HTTP status of the *Error in err's chain (0 if
// none, or no answer).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}
