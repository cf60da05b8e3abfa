package queue

import "math/bits"

// MaxImportBytes bounds an encoded Import. Export keeps a chunk's entries
// within MaxWirePayload bytes unless a single entry is larger (a message
// whose payload is up to MaxWirePayload); the slack above MaxWirePayload
// holds that entry's other fields and the header.
const MaxImportBytes = MaxWirePayload + 64<<10

// Import is one chunk of a sealed partition's state, as read by
// Manager.Export, proposed to the queue's new group. Chunks of one Source
// are applied in order, each exactly once (see Manager.Apply): a chunk
// below the next expected one is a no-op (Result.Duplicate), one above it
// is rejected with ErrImportGap. Result.ID is the next chunk the Source
// must send, on success, on a duplicate and on ErrImportGap alike.
//
// Each list must be sorted strictly by its key (Messages by ID, Clients by
// Client, Dedup by (Queue, DedupID), Sources by Source), as Export makes
// them; every imported id must have a prefix below this group's
// Config.IDPrefix (it comes from an older placement). The Result of a
// cached client command must wrap one of the package's sentinels, or
// Encode panics.
//
// An Import is never refused for size (Config.MaxBytes, MaxMessages): its
// chunks come from a partition under the same bounds, and the messages
// must not be stranded. The importing partition may then hold more than
// the bounds, and refuses Enqueues until it is back under them.
type Import struct {
	// Source names the exporting group (the node chooses it, for example
	// "<epoch>/<queue>"); 1..MaxSourceBytes bytes. Export leaves it empty.
	Source string
	// Chunk is the chunk's number, from 0.
	Chunk uint32
	// Last is set on the Source's last chunk.
	Last bool
	// Messages are the sealed group's messages, ready and in flight alike;
	// each is imported as ready.
	Messages []ImportedMessage
	// Clients are the sealed group's exactly-once entries.
	Clients []ImportedClient
	// Dedup are the sealed group's dedup window entries.
	Dedup []ImportedDedup
	// Sources are the sealed group's own import progress, so that a move
	// interrupted by another one resumes where it was: each merges by the
	// larger Next.
	Sources []ImportedSource
}

// ImportedMessage is a message in an Import.
type ImportedMessage struct {
	Queue string
	ID    uint64
	// Payload is shared with the exporting Manager's state when it comes
	// from Export, and must not be modified.
	Payload []byte
	// Deliveries is how many times it was delivered; an in-flight message
	// travels as ready with its deliveries counted.
	Deliveries uint32
}

// ImportedClient is a client's exactly-once entry in an Import: merged by
// the larger LastSeq, whose Result wins (a tie keeps the local entry).
// The Result carries no Payload (an Import with one is rejected with
// ErrInvalidImport); Export sets Gone on a cached delivery, whose message
// travels as ready. A delivery's Receipt, like every imported id, must be
// an older placement's. A retry of the command in the importing group gets
// the Result with Gone set, since no delivery of this group has that
// receipt.
type ImportedClient struct {
	Client  ClientID
	LastSeq uint64
	Result  Result
}

// ImportedDedup is a dedup window entry in an Import, added if the
// importing group has none for (Queue, DedupID).
type ImportedDedup struct {
	Queue   string
	DedupID string
	// ID is the message id the entry answers with.
	ID uint64
	// At is the command time of the Enqueue that made the entry.
	At int64
}

// ImportedSource is an import source's progress in an Import: Next is the
// next chunk it must send, Done whether its last chunk was applied.
type ImportedSource struct {
	Source string
	Next   uint32
	Done   bool
}

// Encode implements Command.
func (c Import) Encode() []byte {
	e := newEncoder(c.size())
	e.Byte(uint8(c.kind()))
	e.String(c.Source)
	e.Uint(uint64(c.Chunk))
	e.Bool(c.Last)
	e.Uint(uint64(len(c.Messages)))
	for _, m := range c.Messages {
		e.String(m.Queue)
		e.Uint(m.ID)
		e.Blob(m.Payload)
		e.Uint(uint64(m.Deliveries))
	}
	e.Uint(uint64(len(c.Clients)))
	for _, cl := range c.Clients {
		e.String(string(cl.Client))
		e.Uint(cl.LastSeq)
		encodeResult(e, cl.Result)
	}
	e.Uint(uint64(len(c.Dedup)))
	for _, d := range c.Dedup {
		e.String(d.Queue)
		e.String(d.DedupID)
		e.Uint(d.ID)
		e.Int(d.At)
	}
	e.Uint(uint64(len(c.Sources)))
	for _, s := range c.Sources {
		e.String(s.Source)
		e.Uint(uint64(s.Next))
		e.Bool(s.Done)
	}
	return e.Bytes()
}

// size returns the length of c's encoding.
func (c Import) size() int {
	n := importHeaderSize(c.Source, c.Chunk, len(c.Messages), len(c.Clients), len(c.Dedup), len(c.Sources))
	for _, m := range c.Messages {
		n += m.size()
	}
	for _, cl := range c.Clients {
		n += cl.size()
	}
	for _, d := range c.Dedup {
		n += d.size()
	}
	for _, s := range c.Sources {
		n += s.size()
	}
	return n
}

// importHeaderSize is the length of an Import's encoding outside its
// entries: the kind, Source, Chunk, Last and the four counts.
func importHeaderSize(source string, chunk uint32, counts ...int) int {
	n := 1 + stringLen(len(source)) + uvarintLen(uint64(chunk)) + 1
	for _, c := range counts {
		n += uvarintLen(uint64(c))
	}
	return n
}

func (m ImportedMessage) size() int {
	return stringLen(len(m.Queue)) + uvarintLen(m.ID) + stringLen(len(m.Payload)) + uvarintLen(uint64(m.Deliveries))
}

func (c ImportedClient) size() int {
	return stringLen(len(c.Client)) + uvarintLen(c.LastSeq) + resultSize(c.Result)
}

func (d ImportedDedup) size() int {
	return stringLen(len(d.Queue)) + stringLen(len(d.DedupID)) + uvarintLen(d.ID) + varintLen(d.At)
}

func (s ImportedSource) size() int {
	return stringLen(len(s.Source)) + uvarintLen(uint64(s.Next)) + 1
}

// resultSize is the length of encodeResult's encoding of r.
func resultSize(r Result) int {
	msg := 0
	if r.Err != nil {
		msg = len(r.Err.Error())
	}
	return 1 + uvarintLen(r.ID) + uvarintLen(r.Receipt) + uvarintLen(uint64(r.Deliveries)) +
		stringLen(len(r.Payload)) + 1 + 1 + 1 + stringLen(msg)
}

// uvarintLen, varintLen and stringLen are the lengths of the canonical
// encodings of an unsigned varint, a zig-zag varint and a string of n
// bytes.
func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }
func varintLen(v int64) int   { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }
func stringLen(n int) int     { return uvarintLen(uint64(n)) + n }

// decodeUint32 reads a uvarint that must fit 32 bits.
func decodeUint32(d *decoder, what string) uint32 {
	v := d.Uint()
	if v > 1<<32-1 {
		d.Fail("%s %d exceeds 32 bits", what, v)
		return 0
	}
	return uint32(v)
}

// decodeImport reads the fields of an Import written by Encode.
func decodeImport(d *decoder) Import {
	c := Import{Source: d.String(), Chunk: decodeUint32(d, "chunk"), Last: d.Bool()}
	if n := d.Count(4); n > 0 {
		c.Messages = make([]ImportedMessage, n)
		for i := range c.Messages {
			c.Messages[i] = ImportedMessage{Queue: d.String(), ID: d.Uint(), Payload: d.Blob(MaxWirePayload), Deliveries: decodeUint32(d, "deliveries")}
		}
	}
	if n := d.Count(10); n > 0 {
		c.Clients = make([]ImportedClient, n)
		for i := range c.Clients {
			c.Clients[i] = ImportedClient{Client: ClientID(d.String()), LastSeq: d.Uint(), Result: decodeResult(d)}
		}
	}
	if n := d.Count(4); n > 0 {
		c.Dedup = make([]ImportedDedup, n)
		for i := range c.Dedup {
			c.Dedup[i] = ImportedDedup{Queue: d.String(), DedupID: d.String(), ID: d.Uint(), At: d.Int()}
		}
	}
	if n := d.Count(3); n > 0 {
		c.Sources = make([]ImportedSource, n)
		for i := range c.Sources {
			c.Sources[i] = ImportedSource{Source: d.String(), Next: decodeUint32(d, "next chunk"), Done: d.Bool()}
		}
	}
	return c
}
