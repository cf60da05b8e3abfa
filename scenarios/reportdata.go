package scenarios

import (
	"fmt"
	"io"

	"github.com/anishathalye/porcupine"
)

// lockStats reads the lock table's counters from the live replica that
// applied the most of the log (nil if no server is up).
func (ls *LockSim) lockStats() *LockStats {
	var best *LockStats
	var applied uint64
	for _, id := range ls.Servers {
		s := ls.server(id)
		if s == nil || (best != nil && s.Applied() <= applied) {
			continue
		}
		st := s.Manager().Stats()
		applied = s.Applied()
		best = &LockStats{Grants: st.Grants, Waits: st.Waits, Deadlocks: st.Deadlocks,
			Victims: st.Victims, Timeouts: st.Timeouts, Expired: st.Expired}
	}
	return best
}

// VisualizeLinearization writes porcupine's HTML visualisation of a lock
// history's linearizability check (info from History.CheckLinearizable or
// Result.Linearization): the operations per resource and the longest
// partial linearizations, which show where a history that is not
// linearizable goes wrong.
func VisualizeLinearization(w io.Writer, info *porcupine.LinearizationInfo) error {
	if info == nil {
		return fmt.Errorf("linearizability: no check information to visualise")
	}
	if err := porcupine.Visualize(lockModel.ToModel(), *info, w); err != nil {
		return fmt.Errorf("linearizability: visualise: %w", err)
	}
	return nil
}
