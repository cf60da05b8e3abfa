package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios/spec"
)

// FuzzParse feeds the parser arbitrary bytes: it must never panic, every
// error must be an *Error matching ErrInvalid, and a scenario it accepts
// must survive Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("../*.yaml")
	require.NoError(f, err)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(full))
	f.Add([]byte(fullQueues))
	f.Add([]byte(fullCaches))
	f.Add([]byte(fullCachesBroadcast))
	f.Add([]byte(strings.Join(cbase, "\n")))
	for _, c := range slices.Concat(badCases, queueBadCases, cacheBadCases) {
		f.Add([]byte(c.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz.yaml", data)
		if err != nil {
			var e *spec.Error
			if !errors.As(err, &e) || !errors.Is(err, spec.ErrInvalid) {
				t.Fatalf("error %v (%T) is not an *spec.Error matching ErrInvalid", err, err)
			}
			return
		}
		out, err := spec.Marshal(s)
		require.NoError(t, err)
		again, err := spec.Parse("fuzz.yaml", out)
		require.NoError(t, err, "marshalled:\n%s", out)
		require.Equal(t, forget(s), forget(again), "marshalled:\n%s", out)
	})
}
