package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
)

// PrintRequest is a request for a new job: the body of POST /print, and the
// payload of the MQTT connector's print message (same JSON, same rules).
//
// JSON fields:
//
//	printer          printer name; default the first printer declared
//	content          text, as the old API sent it: printed line by line, then cut
//	content_base64   raw printer bytes, standard base64 with padding
//	document         structured blocks (see core.Document)
//	copies           1 to queue.MaxCopies; default 1
//	idempotency_key  a retry with the same key (for the same printer, within the
//	                 window) returns the first job; or the Idempotency-Key header
//	callback_url     where state changes are POSTed; must start with a configured backend
//	expires_in       "90s", "10m" or a number of seconds: not printed after that
//	metadata         a JSON object (at most queue.MaxMetadataBytes) returned with the job
//	job_id           the old Flask API's job reference: the idempotency key when
//	                 none is given, and copied into metadata as "job_id"
//
// Exactly one of content, content_base64 and document is given.
type PrintRequest struct {
	Printer        string
	Content        string // text; see HasContent
	Raw            []byte
	Document       core.Document
	Copies         int
	IdempotencyKey string
	CallbackURL    string
	ExpiresIn      time.Duration // 0: the printer's ttl
	Metadata       json.RawMessage
	// JobID is the legacy job_id as given (already applied to
	// IdempotencyKey and Metadata by DecodePrintRequest).
	JobID string
}

// Limits of the request body beyond those of queue.Request.
const (
	// MaxExpiresIn bounds expires_in: a kitchen ticket a week late is no
	// ticket.
	MaxExpiresIn = 7 * 24 * time.Hour
	// MaxWait bounds ?wait on POST /print and POST /test.
	MaxWait = 2 * time.Minute
)

// printFields lists the fields of a print request, for error messages.
var printFields = []string{"printer", "content", "content_base64", "document", "copies",
	"idempotency_key", "callback_url", "expires_in", "metadata", "job_id"}

// printWire is the JSON shape. Pointers and raw messages tell a field that
// is absent from one that is empty.
type printWire struct {
	Printer        *string         `json:"printer"`
	Content        *string         `json:"content"`
	ContentBase64  *string         `json:"content_base64"`
	Document       json.RawMessage `json:"document"`
	Copies         json.RawMessage `json:"copies"`
	IdempotencyKey *string         `json:"idempotency_key"`
	CallbackURL    *string         `json:"callback_url"`
	ExpiresIn      json.RawMessage `json:"expires_in"`
	Metadata       json.RawMessage `json:"metadata"`
	JobID          json.RawMessage `json:"job_id"`
}

// A RequestError is a request the server refuses before it reaches the
// queue; Error names the field and the problem.
type RequestError struct {
	Code    string // invalid_json, unknown_field, invalid_request
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func badRequest(format string, args ...any) error {
	return &RequestError{Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// DecodePrintRequest decodes a print request body strictly: one JSON object,
// no unknown fields, no trailing data, exactly one kind of content. header
// is the Idempotency-Key header ("" when absent). It does not know the
// configuration: Service.Print checks the printer, the callback URL and the
// document against the printer's profile.
func DecodePrintRequest(body []byte, header string) (*PrintRequest, error) {
	var w printWire
	if err := decodeStrict(body, &w, printFields); err != nil {
		return nil, err
	}
	r := &PrintRequest{}
	if w.Printer != nil {
		if *w.Printer == "" {
			return nil, badRequest("printer is empty: give a printer name or leave the field out for the default printer")
		}
		r.Printer = *w.Printer
	}

	var err error
	if r.Content, r.Raw, r.Document, err = decodeContent(w.Content, w.ContentBase64, w.Document); err != nil {
		return nil, err
	}

	// Copies.
	r.Copies = 1
	if present(w.Copies) {
		n, err := wholeNumber(w.Copies)
		if err != nil {
			return nil, badRequest("copies: %v", err)
		}
		if n < 1 || n > queue.MaxCopies {
			return nil, badRequest("copies %d: want 1 to %d", n, queue.MaxCopies)
		}
		r.Copies = int(n)
	}

	// Idempotency: the body's key, the header, or the legacy job_id.
	if w.IdempotencyKey != nil {
		if *w.IdempotencyKey == "" {
			return nil, badRequest("idempotency_key is empty: give a key or leave the field out")
		}
		r.IdempotencyKey = *w.IdempotencyKey
	}
	if header != "" {
		if r.IdempotencyKey != "" && r.IdempotencyKey != header {
			return nil, badRequest("the Idempotency-Key header %q and idempotency_key %q differ: give one, or the same in both", header, r.IdempotencyKey)
		}
		r.IdempotencyKey = header
	}
	if present(w.JobID) {
		id, err := jobID(w.JobID)
		if err != nil {
			return nil, err
		}
		r.JobID = id
		if r.IdempotencyKey == "" {
			r.IdempotencyKey = id
		}
	}
	if r.IdempotencyKey != "" {
		if len(r.IdempotencyKey) > queue.MaxKeyLen {
			return nil, badRequest("idempotency key is %d bytes, more than %d", len(r.IdempotencyKey), queue.MaxKeyLen)
		}
		if !utf8.ValidString(r.IdempotencyKey) {
			return nil, badRequest("idempotency key is not valid UTF-8")
		}
	}

	if w.CallbackURL != nil {
		if *w.CallbackURL == "" {
			return nil, badRequest("callback_url is empty: give a URL or leave the field out")
		}
		if len(*w.CallbackURL) > queue.MaxCallbackURLLen {
			return nil, badRequest("callback_url is longer than %d bytes", queue.MaxCallbackURLLen)
		}
		r.CallbackURL = *w.CallbackURL
	}

	if present(w.ExpiresIn) {
		d, err := ParseDuration(w.ExpiresIn)
		if err != nil {
			return nil, badRequest("expires_in: %v", err)
		}
		if d <= 0 {
			return nil, badRequest("expires_in %s: want a positive duration such as \"10m\" or 600", d)
		}
		if d > MaxExpiresIn {
			return nil, badRequest("expires_in %s: want at most %s", d, MaxExpiresIn)
		}
		r.ExpiresIn = d
	}

	if present(w.Metadata) {
		m := bytes.TrimSpace(w.Metadata)
		if len(m) > queue.MaxMetadataBytes {
			return nil, badRequest("metadata is %d bytes, more than %d", len(m), queue.MaxMetadataBytes)
		}
		if m[0] != '{' {
			return nil, badRequest("metadata must be a JSON object such as {\"order\": 8812}")
		}
		r.Metadata = m
	}
	if r.JobID != "" {
		md, err := withJobID(r.Metadata, r.JobID)
		if err != nil {
			return nil, err
		}
		r.Metadata = md
	}
	return r, nil
}

// decodeContent checks that exactly one kind of content is given and
// decodes it.
func decodeContent(content, b64 *string, document json.RawMessage) (string, []byte, core.Document, error) {
	var kinds []string
	if content != nil {
		kinds = append(kinds, "content")
	}
	if b64 != nil {
		kinds = append(kinds, "content_base64")
	}
	if present(document) {
		kinds = append(kinds, "document")
	}
	switch len(kinds) {
	case 0:
		return "", nil, nil, badRequest("no content: give one of content (text), content_base64 (raw printer bytes) or document (blocks)")
	case 1:
	default:
		return "", nil, nil, badRequest("%s are both given: give only one of content, content_base64 or document", strings.Join(kinds, " and "))
	}
	switch {
	case content != nil:
		if *content == "" {
			return "", nil, nil, badRequest("content is empty: give the text to print")
		}
		if len(*content) > queue.MaxPayloadBytes {
			return "", nil, nil, badRequest("content is %d bytes, more than %d", len(*content), queue.MaxPayloadBytes)
		}
		if !utf8.ValidString(*content) {
			return "", nil, nil, badRequest("content is not valid UTF-8")
		}
		return *content, nil, nil, nil
	case b64 != nil:
		raw, err := decodeBase64(*b64)
		if err != nil {
			return "", nil, nil, badRequest("content_base64: %v", err)
		}
		if len(raw) == 0 {
			return "", nil, nil, badRequest("content_base64 is empty: give the printer bytes, base64-encoded")
		}
		return "", raw, nil, nil
	}
	doc, err := decodeDocument(document)
	return "", nil, doc, err
}

// decodeStrict decodes one JSON object into v: unknown fields and trailing
// data are errors, and every error is said in terms of the request.
func decodeStrict(body []byte, v any, fields []string) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return &RequestError{Code: CodeInvalidJSON, Message: "empty body: want a JSON object such as {\"content\": \"…\"}"}
	}
	if t[0] != '{' {
		return &RequestError{Code: CodeInvalidJSON, Message: "the body must be a JSON object, not " + jsonKind(t[0])}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, fields)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &RequestError{Code: CodeInvalidJSON, Message: "unexpected data after the JSON object"}
	}
	return checkKeys(body, fields)
}

// checkKeys checks the names of a valid JSON object's members against
// fields, exactly: encoding/json matches them regardless of case, and takes
// the last of two members with the same name, where a request with either
// is a mistake to report.
func checkKeys(body []byte, fields []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return jsonError(err, fields)
	}
	seen := make(map[string]bool, len(fields))
	var skip json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return jsonError(err, fields)
		}
		name, _ := t.(string)
		if !slices.Contains(fields, name) {
			return &RequestError{Code: CodeUnknownField, Message: fmt.Sprintf("unknown field %q; the fields are %s (names are case-sensitive)", name, strings.Join(fields, ", "))}
		}
		if seen[name] {
			return &RequestError{Code: CodeInvalidRequest, Message: fmt.Sprintf("field %q appears twice", name)}
		}
		seen[name] = true
		if err := dec.Decode(&skip); err != nil {
			return jsonError(err, fields)
		}
	}
	return nil
}

func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return "text that is not JSON"
}

// jsonError turns an encoding/json error into a RequestError that names the
// field and the problem.
func jsonError(err error, fields []string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &RequestError{Code: CodeInvalidJSON, Message: fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &RequestError{Code: CodeInvalidJSON, Message: "invalid JSON: the body ends in the middle of a value"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return &RequestError{Code: CodeInvalidRequest, Message: fmt.Sprintf("%s: want %s, got a JSON %s", field, goTypeName(typ.Type.String()), typ.Value)}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return &RequestError{Code: CodeUnknownField, Message: fmt.Sprintf("unknown field %s; the fields are %s", name, strings.Join(fields, ", "))}
	}
	return &RequestError{Code: CodeInvalidJSON, Message: "invalid JSON: " + strings.TrimPrefix(msg, "json: ")}
}

func goTypeName(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "string":
		return "a string"
	case "int", "int64":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return t
}

func present(m json.RawMessage) bool {
	return len(m) > 0 && string(m) != "null"
}

// decodeBase64 accepts standard base64, with or without padding, ignoring
// line breaks.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	}
	if len(s) > base64.StdEncoding.EncodedLen(queue.MaxPayloadBytes) {
		return nil, fmt.Errorf("more than %d bytes", queue.MaxPayloadBytes)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64 (standard alphabet): %v", err)
	}
	return b, nil
}

// decodeDocument decodes the document field block by block, so an error
// names the block.
func decodeDocument(m json.RawMessage) (core.Document, error) {
	t := bytes.TrimSpace(m)
	if t[0] != '[' {
		return nil, badRequest("document must be an array of blocks such as [{\"text\": \"COCINA\"}], not %s", jsonKind(t[0]))
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(t, &raws); err != nil {
		return nil, badRequest("document: %v", err)
	}
	if len(raws) == 0 {
		return nil, badRequest("document is empty: give at least one block")
	}
	if len(raws) > core.MaxBlocks {
		return nil, badRequest("document has %d blocks, more than %d", len(raws), core.MaxBlocks)
	}
	doc := make(core.Document, len(raws))
	for i, raw := range raws {
		if err := doc[i].UnmarshalJSON(raw); err != nil {
			return nil, badRequest("document[%d]: %v", i, err)
		}
	}
	if err := doc.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	return doc, nil
}

// wholeNumber parses a JSON number that must be an integer.
func wholeNumber(m json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(m))
	if s == "" || s[0] == '"' || s[0] == '{' || s[0] == '[' || s == "true" || s == "false" {
		return 0, fmt.Errorf("want a whole number, got %s", truncate(s, 40))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number, got %s", truncate(s, 40))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("want a whole number, got %s", truncate(s, 40))
	}
	return int64(f), nil
}

// ParseDuration reads a duration given as a JSON string ("90s", "10m",
// "1h30m", or a number in a string) or a JSON number of seconds (which may
// have a fraction).
func ParseDuration(m json.RawMessage) (time.Duration, error) {
	s := string(bytes.TrimSpace(m))
	if strings.HasPrefix(s, "\"") {
		var str string
		if err := json.Unmarshal([]byte(s), &str); err != nil {
			return 0, fmt.Errorf("invalid string")
		}
		return parseDurationString(str)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as \"10m\" or a number of seconds, got %s", truncate(s, 40))
	}
	return secondsDuration(f)
}

// parseDurationString reads "10m", "1h30m", "500ms" or a number of seconds.
func parseDurationString(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsDuration(f)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; want something like \"90s\", \"10m\" or \"1h\", or a number of seconds", truncate(s, 40))
	}
	return d, nil
}

func secondsDuration(f float64) (time.Duration, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > float64(math.MaxInt64/int64(time.Second)) {
		return 0, fmt.Errorf("%g seconds is out of range", f)
	}
	return time.Duration(f * float64(time.Second)), nil
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

// jobID reads the legacy job_id: a string, or a number as the old backend's
// primary keys were.
func jobID(m json.RawMessage) (string, error) {
	s := string(bytes.TrimSpace(m))
	var id string
	switch {
	case strings.HasPrefix(s, "\""):
		if err := json.Unmarshal([]byte(s), &id); err != nil {
			return "", badRequest("job_id: invalid string")
		}
	default:
		n, err := wholeNumber(m)
		if err != nil {
			return "", badRequest("job_id: want a string or a whole number, got %s", truncate(s, 40))
		}
		id = strconv.FormatInt(n, 10)
	}
	if id == "" {
		return "", badRequest("job_id is empty")
	}
	if len(id) > queue.MaxKeyLen {
		return "", badRequest("job_id is %d bytes, more than %d", len(id), queue.MaxKeyLen)
	}
	if !utf8.ValidString(id) {
		return "", badRequest("job_id is not valid UTF-8")
	}
	return id, nil
}

// withJobID returns metadata with "job_id" set to id, unless the object
// already has that key.
func withJobID(md json.RawMessage, id string) (json.RawMessage, error) {
	idJSON, _ := json.Marshal(id)
	if md == nil {
		return json.RawMessage(`{"job_id":` + string(idJSON) + `}`), nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(md, &fields); err != nil {
		return nil, badRequest("metadata must be a JSON object: %v", err)
	}
	if _, ok := fields["job_id"]; ok {
		return md, nil
	}
	inner := bytes.TrimSpace(md[1:]) // after '{'
	out := make([]byte, 0, len(md)+len(idJSON)+12)
	out = append(out, `{"job_id":`...)
	out = append(out, idJSON...)
	if len(inner) > 0 && inner[0] != '}' {
		out = append(out, ',')
	}
	out = append(out, inner...)
	if len(out) > queue.MaxMetadataBytes {
		return nil, badRequest("metadata with job_id is %d bytes, more than %d", len(out), queue.MaxMetadataBytes)
	}
	return out, nil
}

// RenderRequest is the body of POST /render: what to draw and for which
// printer or profile.
type RenderRequest struct {
	Printer  string // default: the first printer, unless Profile is given
	Profile  string // a profile name instead of a printer's
	Content  string
	Raw      []byte
	Document core.Document
}

var renderFields = []string{"printer", "profile", "content", "content_base64", "document"}

type renderWire struct {
	Printer       *string         `json:"printer"`
	Profile       *string         `json:"profile"`
	Content       *string         `json:"content"`
	ContentBase64 *string         `json:"content_base64"`
	Document      json.RawMessage `json:"document"`
}

// DecodeRenderRequest decodes a render request body as strictly as a print
// request.
func DecodeRenderRequest(body []byte) (*RenderRequest, error) {
	var w renderWire
	if err := decodeStrict(body, &w, renderFields); err != nil {
		return nil, err
	}
	r := &RenderRequest{}
	if w.Printer != nil && w.Profile != nil {
		return nil, badRequest("printer and profile are both given: give one (a printer renders with its profile)")
	}
	if w.Printer != nil {
		if *w.Printer == "" {
			return nil, badRequest("printer is empty")
		}
		r.Printer = *w.Printer
	}
	if w.Profile != nil {
		if *w.Profile == "" {
			return nil, badRequest("profile is empty")
		}
		r.Profile = *w.Profile
	}
	var err error
	if r.Content, r.Raw, r.Document, err = decodeContent(w.Content, w.ContentBase64, w.Document); err != nil {
		return nil, err
	}
	return r, nil
}
