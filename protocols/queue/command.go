package queue

import "time"

// Command is one queue command, as proposed to and applied from the Raft
// log. The set is closed: Enqueue, Dequeue, Ack, Nack, Tick, Seal and
// Import. Each has a canonical binary encoding (Encode), read back by
// DecodeCommand.
type Command interface {
	// Encode returns the canonical encoding.
	Encode() []byte
	// kind returns the command's tag, which seals the interface.
	kind() commandKind
}

// commandKind is the first byte of an encoded command. The values are part
// of the log format: append new ones, never renumber.
type commandKind uint8

const (
	kindEnqueue commandKind = iota + 1
	kindDequeue
	kindAck
	kindNack
	kindTick
	kindSeal
	kindImport
)

// Enqueue appends Payload to Queue; the Result's ID is the new message's
// id, MakeID(Config.IDPrefix, log index). A non-empty DedupID makes a repeat within Config.DedupWindow of
// command time return the original id instead. Now is the leader's clock
// (unix nanoseconds) when it proposed the command.
type Enqueue struct {
	Client  ClientID
	Seq     uint64
	Queue   string
	Payload []byte
	DedupID string
	Now     int64
}

// Dequeue delivers the ready message of Queue with the smallest id. The
// message is in flight until Now+Visibility; Visibility must be in
// (0, MaxVisibility]. An empty queue gives StatusEmpty.
type Dequeue struct {
	Client     ClientID
	Seq        uint64
	Queue      string
	Visibility time.Duration
	Now        int64
}

// Ack deletes the message delivered under Receipt.
type Ack struct {
	Client  ClientID
	Seq     uint64
	Receipt uint64
}

// Nack makes the message delivered under Receipt ready again at once; its
// delivery count stays (so at Config.MaxDeliveries it is dead-lettered).
type Nack struct {
	Client  ClientID
	Seq     uint64
	Receipt uint64
}

// Tick is proposed by the leader periodically with its clock: every
// delivery whose deadline is <= Now expires. After a Seal it is a no-op.
type Tick struct {
	Now int64
}

// Seal freezes the partition because its queue moves to a new placement
// at ring epoch Epoch: afterwards every new client command and Import is
// rejected with ErrMoved, Tick does nothing, and the frozen state can be
// read out with Manager.Export. A retry of a client's last command still
// returns its cached Result. A second Seal is a no-op; the Result's ID is
// the epoch of the first.
type Seal struct {
	Epoch uint64
}

func (Enqueue) kind() commandKind { return kindEnqueue }
func (Dequeue) kind() commandKind { return kindDequeue }
func (Ack) kind() commandKind     { return kindAck }
func (Nack) kind() commandKind    { return kindNack }
func (Tick) kind() commandKind    { return kindTick }
func (Seal) kind() commandKind    { return kindSeal }
func (Import) kind() commandKind  { return kindImport }

// header starts the encoding of a client command.
func header(k commandKind, client ClientID, seq uint64, extra int) *encoder {
	e := newEncoder(24 + len(client) + extra)
	e.Byte(uint8(k))
	e.String(string(client))
	e.Uint(seq)
	return e
}

// Encode implements Command.
func (c Enqueue) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq, 32+len(c.Queue)+len(c.Payload)+len(c.DedupID))
	e.String(c.Queue)
	e.Blob(c.Payload)
	e.String(c.DedupID)
	e.Int(c.Now)
	return e.Bytes()
}

// Encode implements Command.
func (c Dequeue) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq, 24+len(c.Queue))
	e.String(c.Queue)
	e.Int(int64(c.Visibility))
	e.Int(c.Now)
	return e.Bytes()
}

// Encode implements Command.
func (c Ack) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq, 10)
	e.Uint(c.Receipt)
	return e.Bytes()
}

// Encode implements Command.
func (c Nack) Encode() []byte {
	e := header(c.kind(), c.Client, c.Seq, 10)
	e.Uint(c.Receipt)
	return e.Bytes()
}

// Encode implements Command.
func (c Tick) Encode() []byte {
	e := newEncoder(11)
	e.Byte(uint8(c.kind()))
	e.Int(c.Now)
	return e.Bytes()
}

// Encode implements Command.
func (c Seal) Encode() []byte {
	e := newEncoder(11)
	e.Byte(uint8(c.kind()))
	e.Uint(c.Epoch)
	return e.Bytes()
}

// DecodeCommand reads a command written by Encode. It accepts only the
// canonical encoding (decoding then encoding returns the input), bounds
// every string by MaxWireString, a payload by MaxWirePayload and a whole
// Import by MaxImportBytes, and never panics: any other input is an error
// wrapping ErrMalformed. An empty payload or list decodes as nil. Field
// values are not validated here; Apply rejects them with an error naming
// the field.
func DecodeCommand(b []byte) (Command, error) {
	d := newDecoder(b, 0)
	var cmd Command
	switch k := commandKind(d.Byte()); k {
	case kindEnqueue:
		cmd = Enqueue{Client: ClientID(d.String()), Seq: d.Uint(), Queue: d.String(), Payload: d.Blob(MaxWirePayload), DedupID: d.String(), Now: d.Int()}
	case kindDequeue:
		cmd = Dequeue{Client: ClientID(d.String()), Seq: d.Uint(), Queue: d.String(), Visibility: d.Duration(), Now: d.Int()}
	case kindAck:
		cmd = Ack{Client: ClientID(d.String()), Seq: d.Uint(), Receipt: d.Uint()}
	case kindNack:
		cmd = Nack{Client: ClientID(d.String()), Seq: d.Uint(), Receipt: d.Uint()}
	case kindTick:
		cmd = Tick{Now: d.Int()}
	case kindSeal:
		cmd = Seal{Epoch: d.Uint()}
	case kindImport:
		if len(b) > MaxImportBytes {
			d.Fail("import of %d bytes exceeds %d", len(b), MaxImportBytes)
		}
		cmd = decodeImport(d)
	default:
		if d.Err() == nil {
			d.Fail("unknown command kind %d", k)
		}
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return cmd, nil
}
