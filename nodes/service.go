package nodes

import "fmt"

// ServiceError says why a server did not run a client's request at all;
// every service's reply carries one. The client may retry after each of
// them, and the command was not applied (a retry with the same client and
// sequence number is applied at most once either way).
type ServiceError uint8

// Service errors.
const (
	ServiceOK         ServiceError = iota
	ServiceNotLeader               // ask the reply's Leader instead: the leader, or the owner of the key
	ServiceNoQuorum                // no leader reachable from here: the minority side of a partition
	ServiceBusy                    // the proposal was dropped (flow control, a transfer, a move), or the server is at a limit
	ServiceBadRequest              // the request is malformed or invalid: the reply's Detail names the field
)

var serviceErrorNames = [...]string{"ok", "not leader", "no quorum", "busy", "bad request"}

// String names the error.
func (s ServiceError) String() string {
	if int(s) < len(serviceErrorNames) {
		return serviceErrorNames[s]
	}
	return fmt.Sprintf("service-error-%d", uint8(s))
}
