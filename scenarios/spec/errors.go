package spec

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is the sentinel every error of this package matches with
// errors.Is: the scenario is bad input and cannot run (exit code 2).
var ErrInvalid = errors.New("invalid scenario")

// Error is a problem with a scenario file: where it is and what is wrong.
// Its text reads
//
//	scenarios/x.yaml:12: faults[2].crash: unknown node "n9" (cluster has n1..n5)
//
// File, Line and Field are left out of the text when unknown (a scenario
// built in Go has no lines; a syntax error names no field).
type Error struct {
	File  string // the scenario file, as given to Load or Parse
	Line  int    // 1-based line, 0 if unknown
	Field string // path of the field, as in "faults[2].crash"
	Msg   string // what is wrong
	// Err is the underlying error, if any (a read error, say).
	Err error
}

// Error returns "file:line: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }
