package wire

// InitProducerIDRequest asks any broker for a producer id for an idempotent
// producer (Kafka's InitProducerId, KIP-98). Spate has no transactions yet,
// so TransactionalID is always empty (sent as null) and the broker refuses
// anything else with INVALID_REQUEST.
type InitProducerIDRequest struct {
	// TransactionalID is empty (null on the wire) for an idempotent
	// producer without transactions.
	TransactionalID string
	// TransactionTimeoutMs is the transaction timeout a transactional
	// producer would ask for; ignored while TransactionalID is empty.
	TransactionTimeoutMs int32
}

// APIKey implements Request.
func (*InitProducerIDRequest) APIKey() APIKey { return InitProducerIDKey }

// AppendTo implements Request.
func (q *InitProducerIDRequest) AppendTo(dst []byte) []byte {
	dst = appendMessage(dst, q.TransactionalID)
	return appendInt32(dst, q.TransactionTimeoutMs)
}

// Decode implements Request.
func (q *InitProducerIDRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "InitProducerId request")
}

func (q *InitProducerIDRequest) decode(r *reader) {
	q.TransactionalID = r.string("transactional_id")
	q.TransactionTimeoutMs = r.int32("transaction_timeout_ms")
}

// InitProducerIDResponse carries the producer id and epoch the producer
// stamps on every batch it builds (ProducerID, ProducerEpoch of the
// RecordBatch header). On error both are -1.
type InitProducerIDResponse struct {
	ErrorCode     ErrorCode
	ProducerID    int64
	ProducerEpoch int16
}

// APIKey implements Response.
func (*InitProducerIDResponse) APIKey() APIKey { return InitProducerIDKey }

// AppendTo implements Response.
func (p *InitProducerIDResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendInt64(dst, p.ProducerID)
	return appendInt16(dst, p.ProducerEpoch)
}

// Decode implements Response.
func (p *InitProducerIDResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "InitProducerId response")
}

func (p *InitProducerIDResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.ProducerID, p.ProducerEpoch = -1, -1
		return
	}
	p.ProducerID = r.int64("producer_id")
	p.ProducerEpoch = r.int16("producer_epoch")
}
