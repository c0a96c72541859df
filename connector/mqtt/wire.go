package mqtt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
	"github.com/comandera/comandera/server"
)

// Topic names under the prefix.
const (
	TopicJobs     = "jobs"
	TopicRequests = "requests" // requests/{op}
	TopicEvents   = "events"
	TopicStatus   = "status"
	TopicErrors   = "errors"
	TopicReplies  = "replies"
)

// Request operations, the last level of P/requests/{op}.
const (
	OpPrint   = "print"
	OpTest    = "test"
	OpScan    = "scan"
	OpStatus  = "status"
	OpHealth  = "health"
	OpJob     = "job"
	OpJobs    = "jobs"
	OpCancel  = "cancel"
	OpReprint = "reprint"
)

// Ops lists the request operations.
var Ops = []string{OpPrint, OpTest, OpScan, OpStatus, OpHealth, OpJob, OpJobs, OpCancel, OpReprint}

// User properties of the messages the connector publishes: the HTTP
// callback's headers, with the same values.
const (
	PropSignature = queue.HeaderSignature // "sha256=<hex HMAC-SHA256 of the payload>"
	PropTimestamp = queue.HeaderTimestamp // events: Unix seconds, equal to the body's "timestamp"
	PropEvent     = queue.HeaderEvent     // events: the event_id, equal to the body's
)

// Topics are the full topic names for one prefix.
type Topics struct {
	Prefix   string
	Jobs     string
	Requests string // the filter P/requests/+
	Events   string
	Status   string
	Errors   string
	Replies  string
}

// TopicsFor returns the topics under prefix.
func TopicsFor(prefix string) Topics {
	return Topics{
		Prefix:   prefix,
		Jobs:     prefix + "/" + TopicJobs,
		Requests: prefix + "/" + TopicRequests + "/+",
		Events:   prefix + "/" + TopicEvents,
		Status:   prefix + "/" + TopicStatus,
		Errors:   prefix + "/" + TopicErrors,
		Replies:  prefix + "/" + TopicReplies,
	}
}

// Request returns the topic of request op.
func (t Topics) Request(op string) string { return t.Prefix + "/" + TopicRequests + "/" + op }

// Status is the retained payload of P/status. When the box is online it
// has the printers with their state and queue depth; the will (published
// by the broker when the connection drops without a DISCONNECT) and a clean
// shutdown publish Online false with a Reason.
type Status struct {
	Online   bool   `json:"online"`
	ClientID string `json:"client_id"`
	// Reason says why the box is offline: "connection lost" (the will) or
	// "shutdown".
	Reason string `json:"reason,omitempty"`
	// Time is when the payload was made; for the will, when the connection
	// it belongs to was opened.
	Time      time.Time `json:"time"`
	Hostname  string    `json:"hostname,omitempty"`
	Version   string    `json:"version,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Health and Message are GET /health's status ("healthy" or
	// "degraded") and message.
	Health   string               `json:"health,omitempty"`
	Message  string               `json:"message,omitempty"`
	Printers []server.PrinterInfo `json:"printers,omitempty"`
}

// Reply is the payload of an answer to a request: the HTTP status and
// either the HTTP API's answer body (Result) or its error.
type Reply struct {
	Op            string              `json:"op"`
	Status        int                 `json:"status"`
	CorrelationID string              `json:"correlation_id,omitempty"`
	Result        any                 `json:"result,omitempty"`
	Error         *server.ErrorDetail `json:"error,omitempty"`
}

// Rejection is the payload of P/errors: a message on P/jobs the server
// refused, with the HTTP status and error the same job would get from POST
// /print. The message was acknowledged and is not delivered again.
type Rejection struct {
	Time           time.Time          `json:"time"`
	Timestamp      int64              `json:"timestamp"` // Unix seconds
	Topic          string             `json:"topic"`
	IdempotencyKey string             `json:"idempotency_key,omitempty"`
	CorrelationID  string             `json:"correlation_id,omitempty"`
	Status         int                `json:"status"`
	Error          server.ErrorDetail `json:"error"`
}

// Envelope is the payload of every published message when the connector's
// envelope option is set: the JSON the message would otherwise carry, as a
// string, and its signature (the HMAC of that string's UTF-8 bytes).
type Envelope struct {
	Body      string `json:"body"`
	Signature string `json:"signature,omitempty"`
}

// errBody is an error as Reply and Rejection carry it.
func errBody(e *server.Error) *server.ErrorDetail {
	return &server.ErrorDetail{Code: e.Code, Message: e.Message}
}

// MaxCorrelationID bounds the correlation_id field of a request body.
const MaxCorrelationID = 256

// DerivedKeyPrefix starts the idempotency key the connector gives a job
// that has none: DerivedKeyPrefix and the hex SHA-256 of the message
// payload.
const DerivedKeyPrefix = "mqtt-sha256-"

// DerivedKey is the idempotency key of a job message without one.
func DerivedKey(payload []byte) string {
	sum := sha256.Sum256(payload)
	return DerivedKeyPrefix + hex.EncodeToString(sum[:])
}

// ParseJob decodes a job message: the JSON of POST /print, plus an optional
// correlation_id that is echoed in the answer. maxBody bounds the payload.
// A job without idempotency_key or job_id gets DerivedKey(payload). Errors
// are *server.Error with the HTTP status and code.
func ParseJob(payload []byte, maxBody int64) (*server.PrintRequest, string, error) {
	if int64(len(payload)) > maxBody {
		return nil, "", &server.Error{Status: http.StatusRequestEntityTooLarge, Code: server.CodeTooLarge,
			Message: fmt.Sprintf("the message is %d bytes, more than the server's max_body (%d bytes)", len(payload), maxBody)}
	}
	body, corr, err := takeCorrelation(payload)
	if err != nil {
		return nil, "", server.AsError(err)
	}
	req, err := server.DecodePrintRequest(body, "")
	if err != nil {
		return nil, corr, server.AsError(err)
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = DerivedKey(payload)
	}
	return req, corr, nil
}

// takeCorrelation removes a top-level "correlation_id" from a JSON object
// and returns it. Anything that is not an object is returned as it is, for
// the decoder to explain.
func takeCorrelation(payload []byte) ([]byte, string, error) {
	if !bytes.Contains(payload, []byte(`"correlation_id"`)) {
		return payload, "", nil
	}
	t := bytes.TrimSpace(payload)
	if len(t) == 0 || t[0] != '{' {
		return payload, "", nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(t, &fields); err != nil {
		return payload, "", nil // the strict decoder says what is wrong
	}
	raw, ok := fields["correlation_id"]
	if !ok {
		return payload, "", nil
	}
	corr, err := correlationID(raw)
	if err != nil {
		return nil, "", err
	}
	delete(fields, "correlation_id")
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, "", err
	}
	return body, corr, nil
}

func correlationID(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("correlation_id: want a string")
	}
	if len(s) > MaxCorrelationID {
		return "", badRequest("correlation_id is %d bytes, more than %d", len(s), MaxCorrelationID)
	}
	if !utf8.ValidString(s) {
		return "", badRequest("correlation_id is not valid UTF-8")
	}
	return s, nil
}

func badRequest(format string, args ...any) *server.Error {
	return &server.Error{Status: http.StatusBadRequest, Code: server.CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// requestBody is the body of a request other than print. Which fields an
// op takes is in requestFields.
type requestBody struct {
	CorrelationID json.RawMessage `json:"correlation_id"`
	Printer       *string         `json:"printer"`
	JobID         *string         `json:"job_id"`
	State         *string         `json:"state"`
	Limit         json.RawMessage `json:"limit"`
	Before        *string         `json:"before"`
}

var requestFields = map[string][]string{
	OpTest:    {"printer"},
	OpScan:    {},
	OpStatus:  {},
	OpHealth:  {},
	OpJob:     {"job_id"},
	OpJobs:    {"printer", "state", "limit", "before"},
	OpCancel:  {"job_id"},
	OpReprint: {"job_id", "printer"},
}

// Request is a decoded request other than print.
type Request struct {
	Op            string
	CorrelationID string
	Printer       string
	JobID         string
	Filter        queue.Filter // jobs
}

// ParseRequest decodes the body of request op (not print): a JSON object
// with the op's fields and an optional correlation_id; an empty payload is
// {}. Errors are *server.Error with the HTTP status and code.
func ParseRequest(op string, payload []byte) (*Request, error) {
	allowed, ok := requestFields[op]
	if !ok {
		return nil, &server.Error{Status: http.StatusNotFound, Code: server.CodeNotFound,
			Message: fmt.Sprintf("unknown request %q; the requests are %s", truncate(op, 64), strings.Join(Ops, ", "))}
	}
	r := &Request{Op: op}
	t := bytes.TrimSpace(payload)
	if len(t) == 0 {
		t = []byte("{}")
	}
	if t[0] != '{' {
		return nil, &server.Error{Status: http.StatusBadRequest, Code: server.CodeInvalidJSON, Message: "the request must be a JSON object (or empty)"}
	}
	// Which fields are present, to refuse those the op does not take.
	var present map[string]json.RawMessage
	if err := json.Unmarshal(t, &present); err != nil {
		return nil, &server.Error{Status: http.StatusBadRequest, Code: server.CodeInvalidJSON, Message: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	for k := range present {
		if k != "correlation_id" && !slices.Contains(allowed, k) {
			known := append([]string{"correlation_id"}, allowed...)
			return nil, &server.Error{Status: http.StatusBadRequest, Code: server.CodeUnknownField,
				Message: fmt.Sprintf("unknown field %q for request %s; the fields are %s", truncate(k, 64), op, strings.Join(known, ", "))}
		}
	}
	var b requestBody
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(&b); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, badRequest("%s: want %s", typ.Field, typ.Type)
		}
		return nil, &server.Error{Status: http.StatusBadRequest, Code: server.CodeInvalidJSON, Message: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &server.Error{Status: http.StatusBadRequest, Code: server.CodeInvalidJSON, Message: "unexpected data after the JSON object"}
	}
	if b.CorrelationID != nil && string(b.CorrelationID) != "null" {
		c, err := correlationID(b.CorrelationID)
		if err != nil {
			return nil, err
		}
		r.CorrelationID = c
	}
	str := func(name string, p *string) (string, error) {
		if p == nil {
			return "", nil
		}
		if *p == "" {
			return "", badRequest("%s is empty: give a value or leave the field out", name)
		}
		if len(*p) > 256 || !utf8.ValidString(*p) {
			return "", badRequest("%s: want at most 256 bytes of UTF-8", name)
		}
		return *p, nil
	}
	var err error
	if r.Printer, err = str("printer", b.Printer); err != nil {
		return nil, err
	}
	if r.JobID, err = str("job_id", b.JobID); err != nil {
		return nil, err
	}
	if (op == OpJob || op == OpCancel || op == OpReprint) && r.JobID == "" {
		return nil, badRequest("job_id is required for request %s", op)
	}
	if op == OpJobs {
		r.Filter = queue.Filter{Printer: r.Printer, Limit: 100}
		st, err := str("state", b.State)
		if err != nil {
			return nil, err
		}
		r.Filter.State = core.JobState(st)
		if st != "" && !r.Filter.State.Valid() {
			return nil, badRequest("state %q: want one of queued, printing, printed, failed, expired, canceled", truncate(st, 40))
		}
		if r.Filter.Before, err = str("before", b.Before); err != nil {
			return nil, err
		}
		if b.Limit != nil && string(b.Limit) != "null" {
			var n int
			if err := json.Unmarshal(b.Limit, &n); err != nil || n < 1 || n > 1000 {
				return nil, badRequest("limit %s: want a whole number from 1 to 1000", truncate(string(b.Limit), 40))
			}
			r.Filter.Limit = n
		}
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
