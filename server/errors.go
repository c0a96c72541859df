package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/comandera/comandera/queue"
)

// Error codes, the "code" of an error body {"error":{"code":…,"message":…}}.
const (
	CodeInvalidJSON      = "invalid_json"           // 400: the body is not one JSON object
	CodeUnknownField     = "unknown_field"          // 400: a field the request does not have
	CodeInvalidRequest   = "invalid_request"        // 400: a field's value is wrong
	CodeInvalidDocument  = "invalid_document"       // 400: the document cannot be printed on the printer's profile
	CodeCallbackRefused  = "callback_not_allowed"   // 400: callback_url is not under a configured backend
	CodeUnauthorized     = "unauthorized"           // 401
	CodeNotFound         = "not_found"              // 404: no such route or job
	CodeUnknownPrinter   = "unknown_printer"        // 404
	CodeMethodNotAllowed = "method_not_allowed"     // 405
	CodeConflict         = "job_not_queued"         // 409: only a queued job can be canceled
	CodeTooLarge         = "body_too_large"         // 413
	CodeUnsupportedType  = "unsupported_media_type" // 415
	CodeQueueFull        = "queue_full"             // 429 with Retry-After
	CodeTooManyAttempts  = "too_many_auth_failures" // 429 with Retry-After
	CodeUnavailable      = "unavailable"            // 503: shutting down
	CodeTimeout          = "timeout"                // 504
	CodeInternal         = "internal"               // 500
)

// An Error is an error with the HTTP status and code the API answers it
// with. Service methods return *Error for problems with the request; MQTT
// and other transports use Code and Message the same way.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // 429: a suggested delay
	Err        error         // the cause, if any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// ErrorBody is the JSON body of an error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// AsError classifies any error from the service into an *Error: request
// errors are 400, queue errors map as queue's doc says, anything else is a
// 500 (with a message that does not leak internals).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var re *RequestError
	if errors.As(err, &re) {
		return &Error{Status: http.StatusBadRequest, Code: re.Code, Message: re.Message, Err: err}
	}
	var full *queue.FullError
	switch {
	case errors.As(err, &full):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeQueueFull, Message: full.Error(), RetryAfter: full.RetryAfter, Err: err}
	case errors.Is(err, queue.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: err.Error(), Err: err}
	case errors.Is(err, queue.ErrUnknownPrinter):
		return &Error{Status: http.StatusNotFound, Code: CodeUnknownPrinter, Message: err.Error(), Err: err}
	case errors.Is(err, queue.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error(), Err: err}
	case errors.Is(err, queue.ErrNotQueued):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error(), Err: err}
	case errors.Is(err, queue.ErrClosed), errors.Is(err, ErrClosing):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the server is shutting down; retry shortly", RetryAfter: 5 * time.Second, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeTimeout, Message: "timed out: " + err.Error(), Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; see the server log", Err: err}
}

// ErrClosing is returned while the service shuts down.
var ErrClosing = errors.New("server shutting down")

// writeError writes err as an error body with its status.
func writeError(w http.ResponseWriter, err error) {
	e := AsError(err)
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	writeJSON(w, e.Status, ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message}})
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"cannot encode the answer"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
