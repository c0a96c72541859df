package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/comandera/comandera/core"
)

// A Job is one print job. Its JSON form is what the server returns for it.
//
// Exactly one of Content, Raw and Document holds the payload. Jobs read with
// List, and the snapshots in Events, carry no payload (it may be megabytes);
// Get and the Job a Printer receives do.
type Job struct {
	ID      string        `json:"job_id"`
	Printer string        `json:"printer"`
	State   core.JobState `json:"state"`

	Content  string        `json:"content,omitempty"`        // text, as the old API sent it
	Raw      []byte        `json:"content_base64,omitempty"` // raw printer bytes
	Document core.Document `json:"document,omitempty"`       // structured ticket

	Copies         int             `json:"copies"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	CallbackURL    string          `json:"callback_url,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"` // a JSON object, returned as given

	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	PrintedAt     time.Time `json:"printed_at,omitzero"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`      // zero: never expires
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"` // set while a retry waits out its backoff

	Attempts  int    `json:"attempts"` // print tries that counted (a not-ready printer does not spend one)
	LastError string `json:"last_error,omitempty"`

	// Reprint asks the encoder for a visible REPRINT line: set on a job found
	// printing after a crash, and on jobs made by Queue.Reprint.
	Reprint bool `json:"reprint,omitempty"`
	// ReprintOf is the ID of the job a manual reprint copies.
	ReprintOf string `json:"reprint_of,omitempty"`
	// FailedOverFrom is the printer the job was first sent to, when it was
	// moved to a fallback.
	FailedOverFrom string `json:"failed_over_from,omitempty"`
}

// snapshot returns a copy of j without its payload.
func (j *Job) snapshot() *Job {
	c := *j
	c.Content, c.Raw, c.Document = "", nil, nil
	return &c
}

// keyPrinter is the printer an idempotency key was registered under: the one
// the job was submitted to.
func (j *Job) keyPrinter() string {
	if j.FailedOverFrom != "" {
		return j.FailedOverFrom
	}
	return j.Printer
}

// payload is the stored form of a job's content, written once. A document is
// stored as []block: core.Block without its JSON methods, so encoding/json
// writes the Go fields directly. That is ten times faster than the API form
// (which goes through maps and validates on the way in) and matters because
// every submission encodes it and every print decodes it. Fields added to
// core.Block are stored automatically; a renamed field would be lost for jobs
// queued across the upgrade.
type payload struct {
	Content  string  `json:"c,omitempty"`
	Raw      []byte  `json:"r,omitempty"`
	Document []block `json:"d,omitempty"`
}

type block core.Block

// MarshalJSON writes the block's non-zero fields under their Go names: a
// tenth of the size of all fields (most options are zero), which matters on
// an SD card. Decoding needs nothing special: absent fields stay zero.
func (b block) MarshalJSON() ([]byte, error) {
	v := reflect.ValueOf(b)
	t := v.Type()
	buf := make([]byte, 0, 128)
	buf = append(buf, '{')
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.IsZero() || !t.Field(i).IsExported() {
			continue
		}
		val, err := json.Marshal(f.Interface())
		if err != nil {
			return nil, err
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, t.Field(i).Name...)
		buf = append(buf, '"', ':')
		buf = append(buf, val...)
	}
	return append(buf, '}'), nil
}

func newPayload(content string, raw []byte, doc core.Document) payload {
	p := payload{Content: content, Raw: raw}
	if doc != nil {
		p.Document = make([]block, len(doc))
		for i := range doc {
			p.Document[i] = block(doc[i])
		}
	}
	return p
}

func (p *payload) document() core.Document {
	if p.Document == nil {
		return nil
	}
	d := make(core.Document, len(p.Document))
	for i := range p.Document {
		d[i] = core.Block(p.Document[i])
	}
	return d
}

// A Request asks for a new job. The server fills it from POST /print.
type Request struct {
	Printer string // required; the server resolves the default printer

	// Exactly one of these.
	Content  string
	Raw      []byte
	Document core.Document

	Copies         int             // 0 means 1; at most MaxCopies
	IdempotencyKey string          // optional; scoped to Printer (see the package doc)
	CallbackURL    string          // optional; the server checks it against the backend allow-list
	Metadata       json.RawMessage // optional JSON object
	ExpiresIn      time.Duration   // 0: the printer's TTL
}

// Limits on a Request.
const (
	MaxCopies         = 50
	MaxKeyLen         = 255
	MaxMetadataBytes  = 64 << 10
	MaxPayloadBytes   = 16 << 20
	MaxCallbackURLLen = 2048
)

// Errors. Wrapped errors carry details; test with errors.Is.
var (
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid job")
	// ErrUnknownPrinter: no printer of that name is configured (404).
	ErrUnknownPrinter = errors.New("unknown printer")
	// ErrNotFound: no job with that ID (404).
	ErrNotFound = errors.New("job not found")
	// ErrNotQueued: the job has left the queued state, so it cannot be
	// canceled (409). The error is a *StateError.
	ErrNotQueued = errors.New("job is not queued")
	// ErrQueueFull: the printer's queue is at its limit (429). The error is a
	// *FullError with a suggested retry delay.
	ErrQueueFull = errors.New("queue full")
	// ErrClosed: the queue is shutting down (503).
	ErrClosed = errors.New("queue closed")
)

// FullError is returned by Submit and Reprint when a printer's queue is full.
type FullError struct {
	Printer    string
	Depth      int
	Limit      int
	RetryAfter time.Duration // a suggestion for the Retry-After header, whole seconds, at least 1s
}

func (e *FullError) Error() string {
	return fmt.Sprintf("printer %q has %d jobs waiting (limit %d); retry in %s", e.Printer, e.Depth, e.Limit, e.RetryAfter)
}

// Is makes errors.Is(err, ErrQueueFull) true.
func (e *FullError) Is(target error) bool { return target == ErrQueueFull }

// StateError is returned when an operation does not fit the job's state.
type StateError struct {
	ID    string
	State core.JobState
	Op    string // "cancel"
}

func (e *StateError) Error() string {
	switch {
	case e.State == core.JobPrinting:
		return fmt.Sprintf("cannot %s job %s: it is printing now; only a queued job can be canceled", e.Op, e.ID)
	default:
		return fmt.Sprintf("cannot %s job %s: it is already %s; only a queued job can be canceled", e.Op, e.ID, e.State)
	}
}

// Is makes errors.Is(err, ErrNotQueued) true.
func (e *StateError) Is(target error) bool { return target == ErrNotQueued }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// validate checks what can be checked without the store.
func (r *Request) validate() error {
	n := 0
	if r.Content != "" {
		n++
	}
	if r.Raw != nil {
		n++
	}
	if r.Document != nil {
		n++
	}
	switch {
	case n == 0:
		return invalid("no content: give one of content, content_base64 or document")
	case n > 1:
		return invalid("two kinds of content: give only one of content, content_base64 or document")
	}
	if r.Raw != nil && len(r.Raw) == 0 {
		return invalid("content_base64 is empty")
	}
	if len(r.Content) > MaxPayloadBytes || len(r.Raw) > MaxPayloadBytes {
		return invalid("content is larger than %d bytes", MaxPayloadBytes)
	}
	if r.Content != "" && !utf8.ValidString(r.Content) {
		return invalid("content is not valid UTF-8")
	}
	if r.Document != nil {
		if err := r.Document.Validate(); err != nil {
			return invalid("%v", err)
		}
	}
	if r.Copies < 0 || r.Copies > MaxCopies {
		return invalid("copies %d: want 1 to %d", r.Copies, MaxCopies)
	}
	if len(r.IdempotencyKey) > MaxKeyLen {
		return invalid("idempotency key is %d bytes, more than %d", len(r.IdempotencyKey), MaxKeyLen)
	}
	if !utf8.ValidString(r.IdempotencyKey) {
		return invalid("idempotency key is not valid UTF-8")
	}
	if r.CallbackURL != "" {
		if err := checkCallbackURL(r.CallbackURL); err != nil {
			return err
		}
	}
	if r.Metadata != nil {
		if err := checkMetadata(r.Metadata); err != nil {
			return err
		}
	}
	if r.ExpiresIn < 0 {
		return invalid("expires_in %s is negative", r.ExpiresIn)
	}
	return nil
}

func checkCallbackURL(s string) error {
	if len(s) > MaxCallbackURLLen {
		return invalid("callback_url is longer than %d bytes", MaxCallbackURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid("callback_url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return invalid("callback_url %q: want an absolute http or https URL", s)
	}
	if u.User != nil {
		return invalid("callback_url must not carry credentials")
	}
	return nil
}

func checkMetadata(m json.RawMessage) error {
	if len(m) > MaxMetadataBytes {
		return invalid("metadata is %d bytes, more than %d", len(m), MaxMetadataBytes)
	}
	t := bytes.TrimSpace(m)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return invalid("metadata must be a JSON object")
	}
	return nil
}

// Permanent marks err as a problem with the job itself (an encoding error, a
// document the profile cannot print), not with the printer: the job fails at
// once instead of being retried. Print returns Permanent(err).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Partial marks err as a failure after some of the job's bytes reached the
// printer: part of the ticket may be on the paper, so the retry prints with
// a visible REPRINT line, as after a crash. Print returns Partial(err).
func Partial(err error) error {
	if err == nil {
		return nil
	}
	return &partialError{err}
}

type partialError struct{ err error }

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// IsPartial reports whether err was marked with Partial.
func IsPartial(err error) bool {
	var p *partialError
	return errors.As(err, &p)
}
