package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/distsync/distsync/scenarios"
)

// Input is a results file: a run's Result (`run --json`) or a sweep's
// SweepReport (`sweep --json`); exactly one is set.
type Input struct {
	Result *scenarios.Result
	Sweep  *SweepReport
}

// ErrBadInput marks every error of Load: the file is missing, not
// complete JSON, of another version or of an unknown shape.
var ErrBadInput = errors.New("bad results file")

// Load reads a results file written by `run --json` or `sweep --json`,
// and checks its version.
func Load(path string) (*Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return Parse(path, data)
}

// Parse decodes the contents of a results file; name is used in errors.
func Parse(name string, data []byte) (*Input, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadInput, name, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bad("empty file: want the JSON of `distsync run --json` or `distsync sweep --json`")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		if err.Error() == "unexpected end of JSON input" {
			return nil, bad("truncated JSON (%v): the file ends before the document does", err)
		}
		return nil, bad("not a results file: %v", err)
	}
	_, isSweep := probe["scenarios"]
	_, isRun := probe["scenario"]
	if !isSweep && !isRun {
		return nil, bad("not a results file: neither a run result (no \"scenario\") nor a sweep report (no \"scenarios\")")
	}
	var version int
	if v, ok := probe["version"]; ok {
		if err := json.Unmarshal(v, &version); err != nil {
			return nil, bad("version: %v", err)
		}
	}
	want := scenarios.ResultVersion
	if isSweep {
		want = SweepVersion
	}
	if version != want {
		return nil, bad("results version %d, but this distsync reads version %d: the file was written by another version of distsync; run the scenario again to regenerate it", version, want)
	}
	in := &Input{}
	var err error
	if isSweep {
		in.Sweep = &SweepReport{}
		err = json.Unmarshal(data, in.Sweep)
	} else {
		in.Result = &scenarios.Result{}
		err = json.Unmarshal(data, in.Result)
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	return in, nil
}
