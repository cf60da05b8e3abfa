package apitypes

// EnqueueRequest is the body of POST /queue/enqueue. Body is the payload,
// base64 (standard encoding, padded) in JSON, as encoding/json writes a
// []byte.
type EnqueueRequest struct {
	Queue string `json:"queue"` // the queue's name
	Body  []byte `json:"body"`  // the payload (required; may be empty)
	// DedupID, if set, makes a second enqueue with the same id a
	// duplicate (EnqueueReply.Duplicate) instead of a new message.
	DedupID string `json:"dedup_id,omitempty"`
	// Client and Seq: see AcquireRequest.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// DequeueRequest is the body of POST /queue/dequeue.
type DequeueRequest struct {
	Queue string `json:"queue"` // the queue's name
	// Visibility is how long the message stays invisible to other
	// dequeues unless acked ("30s"; default: the server's).
	Visibility *string `json:"visibility,omitempty"`
	// Client and Seq: see AcquireRequest.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// ReceiptRequest is the body of POST /queue/ack and /queue/nack.
type ReceiptRequest struct {
	Queue string `json:"queue"` // the queue the message was dequeued from
	// Receipt is the receipt a dequeue returned.
	Receipt Decimal `json:"receipt"`
	// Client and Seq: see AcquireRequest.
	Client string `json:"client,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// EnqueueReply is the answer to an enqueue, once the message is committed
// on a majority of its group.
type EnqueueReply struct {
	// Duplicate is true when DedupID named a message already enqueued.
	Duplicate bool    `json:"duplicate"`
	ID        Decimal `json:"id"`    // the message's id (the first one's for a duplicate)
	Queue     string  `json:"queue"` // the queue's name
}

// DequeueReply is the answer to a dequeue: a message, or Empty.
type DequeueReply struct {
	Queue string `json:"queue"` // the queue's name
	// Empty is true when no message was ready; the other fields are then
	// zero.
	Empty   bool    `json:"empty"`
	ID      Decimal `json:"id,omitempty"`      // the message's id
	Receipt Decimal `json:"receipt,omitempty"` // names this delivery to ack or nack it
	Body    []byte  `json:"body,omitempty"`    // the payload (base64 in JSON)
	// Deliveries counts the deliveries of the message, this one included.
	Deliveries uint32 `json:"deliveries,omitempty"`
	// Gone is set on the answer to a retried dequeue (same Client and
	// Seq) whose delivery is over (acked, expired or nacked): Body is then
	// empty, and ID, Receipt and Deliveries still name the delivery.
	Gone bool `json:"gone,omitempty"`
}

// AckReply is the answer to an ack: the message is deleted.
type AckReply struct {
	Acked   bool    `json:"acked"`   // always true
	Queue   string  `json:"queue"`   // the queue's name
	Receipt Decimal `json:"receipt"` // the receipt acked
}

// NackReply is the answer to a nack: the message is ready again at once.
type NackReply struct {
	Nacked  bool    `json:"nacked"`  // always true
	Queue   string  `json:"queue"`   // the queue's name
	Receipt Decimal `json:"receipt"` // the receipt nacked
}
