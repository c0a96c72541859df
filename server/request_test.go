package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
)

func TestDecodePrintRequest(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		header string
		check  func(t *testing.T, r *PrintRequest)
	}{
		{"legacy flask body", `{"content": "Mesa 4\n1x Caña", "job_id": "881"}`, "", func(t *testing.T, r *PrintRequest) {
			if r.Content != "Mesa 4\n1x Caña" || r.IdempotencyKey != "881" || r.JobID != "881" || r.Copies != 1 || r.Printer != "" {
				t.Errorf("%+v", r)
			}
			if string(r.Metadata) != `{"job_id":"881"}` {
				t.Errorf("metadata %s", r.Metadata)
			}
		}},
		{"numeric job_id", `{"content": "x", "job_id": 881}`, "", func(t *testing.T, r *PrintRequest) {
			if r.IdempotencyKey != "881" {
				t.Errorf("key %q", r.IdempotencyKey)
			}
		}},
		{"job_id does not override a key", `{"content": "x", "job_id": "881", "idempotency_key": "order-1"}`, "", func(t *testing.T, r *PrintRequest) {
			if r.IdempotencyKey != "order-1" || r.JobID != "881" {
				t.Errorf("%+v", r)
			}
		}},
		{"job_id joins metadata", `{"content": "x", "job_id": "9", "metadata": {"table": 4}}`, "", func(t *testing.T, r *PrintRequest) {
			var m map[string]any
			if err := json.Unmarshal(r.Metadata, &m); err != nil || m["job_id"] != "9" || m["table"] != 4.0 {
				t.Errorf("metadata %s (%v)", r.Metadata, err)
			}
		}},
		{"job_id and empty metadata", `{"content": "x", "job_id": "9", "metadata": {}}`, "", func(t *testing.T, r *PrintRequest) {
			if string(r.Metadata) != `{"job_id":"9"}` {
				t.Errorf("metadata %s", r.Metadata)
			}
		}},
		{"metadata keeps its own job_id", `{"content": "x", "job_id": "9", "metadata": {"job_id": "mine"}}`, "", func(t *testing.T, r *PrintRequest) {
			if !bytes.Contains(r.Metadata, []byte(`"mine"`)) || bytes.Contains(r.Metadata, []byte(`"9"`)) {
				t.Errorf("metadata %s", r.Metadata)
			}
		}},
		{"header key", `{"content": "x"}`, "abc", func(t *testing.T, r *PrintRequest) {
			if r.IdempotencyKey != "abc" {
				t.Errorf("key %q", r.IdempotencyKey)
			}
		}},
		{"same key twice", `{"content": "x", "idempotency_key": "abc"}`, "abc", func(t *testing.T, r *PrintRequest) {
			if r.IdempotencyKey != "abc" {
				t.Errorf("key %q", r.IdempotencyKey)
			}
		}},
		{"everything", `{"printer": "bar", "document": [{"text": "Hola", "bold": true}, {"cut": "full"}], "copies": 3,
			"callback_url": "https://b.example/x", "expires_in": "10m", "metadata": {"a": [1]}}`, "", func(t *testing.T, r *PrintRequest) {
			if r.Printer != "bar" || len(r.Document) != 2 || r.Document[0].Kind != core.KindText || !r.Document[0].Bold ||
				r.Copies != 3 || r.CallbackURL != "https://b.example/x" || r.ExpiresIn != 10*time.Minute || string(r.Metadata) != `{"a": [1]}` {
				t.Errorf("%+v", r)
			}
		}},
		{"expires_in seconds", `{"content": "x", "expires_in": 90}`, "", func(t *testing.T, r *PrintRequest) {
			if r.ExpiresIn != 90*time.Second {
				t.Errorf("%s", r.ExpiresIn)
			}
		}},
		{"expires_in fraction", `{"content": "x", "expires_in": 1.5}`, "", func(t *testing.T, r *PrintRequest) {
			if r.ExpiresIn != 1500*time.Millisecond {
				t.Errorf("%s", r.ExpiresIn)
			}
		}},
		{"expires_in seconds in a string", `{"content": "x", "expires_in": "600"}`, "", func(t *testing.T, r *PrintRequest) {
			if r.ExpiresIn != 10*time.Minute {
				t.Errorf("%s", r.ExpiresIn)
			}
		}},
		{"base64 with and without padding", `{"content_base64": "G0BIb2xhCg"}`, "", func(t *testing.T, r *PrintRequest) {
			if string(r.Raw) != "\x1b@Hola\n" {
				t.Errorf("%q", r.Raw)
			}
		}},
		{"base64 with line breaks", `{"content_base64": "G0BI\nb2xhCg=="}`, "", func(t *testing.T, r *PrintRequest) {
			if string(r.Raw) != "\x1b@Hola\n" {
				t.Errorf("%q", r.Raw)
			}
		}},
		{"nulls are absent", `{"content": "x", "document": null, "copies": null, "metadata": null}`, "", func(t *testing.T, r *PrintRequest) {
			if r.Document != nil || r.Copies != 1 || r.Metadata != nil {
				t.Errorf("%+v", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodePrintRequest([]byte(c.body), c.header)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, r)
		})
	}
}

func TestDecodePrintRequestErrors(t *testing.T) {
	bigMeta := `{"content": "x", "metadata": {"a": "` + strings.Repeat("m", queue.MaxMetadataBytes) + `"}}`
	cases := []struct{ body, code, msg string }{
		{`{"content": "x", "metadata": "str"}`, CodeInvalidRequest, "metadata must be a JSON object"},
		{bigMeta, CodeInvalidRequest, "metadata is"},
		{`{"content": "x", "job_id": ""}`, CodeInvalidRequest, "job_id is empty"},
		{`{"content": "x", "job_id": 1.5}`, CodeInvalidRequest, "job_id: want a string or a whole number"},
		{`{"content": "x", "printer": ""}`, CodeInvalidRequest, "printer is empty"},
		{`{"content": "x", "callback_url": ""}`, CodeInvalidRequest, "callback_url is empty"},
		{`{"content": "x", "idempotency_key": ""}`, CodeInvalidRequest, "idempotency_key is empty"},
		{`{"content_base64": ""}`, CodeInvalidRequest, "content_base64 is empty"},
		{`{"document": [{"text": "a", "bold": "yes"}]}`, CodeInvalidRequest, "document[0]"},
		{`"text"`, CodeInvalidJSON, "not a string"},
		{`null`, CodeInvalidJSON, "not null"},
		{`{"content": "x"}}`, CodeInvalidJSON, "unexpected data"},
	}
	for _, c := range cases {
		_, err := DecodePrintRequest([]byte(c.body), "")
		var re *RequestError
		if err == nil {
			t.Errorf("%.60s: no error", c.body)
			continue
		}
		if !asRequestError(err, &re) || re.Code != c.code || !strings.Contains(re.Message, c.msg) {
			t.Errorf("%.60s: %v (%T), want %s containing %q", c.body, err, err, c.code, c.msg)
		}
	}
}

func asRequestError(err error, re **RequestError) bool {
	r, ok := err.(*RequestError)
	*re = r
	return ok
}

// FuzzDecodePrintRequest feeds arbitrary bodies to the decoder: it must
// never panic, must answer a *RequestError when it refuses, and what it
// accepts must satisfy the invariants the queue relies on.
func FuzzDecodePrintRequest(f *testing.F) {
	for _, s := range []string{
		`{"content": "Hola", "job_id": "1"}`,
		`{"printer": "bar", "document": [{"text": "COCINA", "width": 2}, {"qr": "x", "size": 6}, {"cut": "partial"}], "copies": 2}`,
		`{"content_base64": "G0BIb2xhCg==", "expires_in": "10m", "metadata": {"a": 1}}`,
		`{"content": "x", "idempotency_key": "k", "callback_url": "https://b/x", "expires_in": 30}`,
		`{"document": [{"barcode": "4006381333931", "type": "ean13", "hri": true}, {"image": "iVBORw0KGgo="}]}`,
		`{"content": "x", "job_id": 5, "metadata": {}}`,
		`[]`, `{}`, ``, `{"content": "x"} 1`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"content": "x"}`), "key-1")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		r, err := DecodePrintRequest(body, header)
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if r != nil {
				t.Fatal("request and error")
			}
			return
		}
		kinds := 0
		if r.Content != "" {
			kinds++
		}
		if r.Raw != nil {
			kinds++
		}
		if r.Document != nil {
			kinds++
		}
		if kinds != 1 {
			t.Fatalf("%d kinds of content accepted", kinds)
		}
		if r.Copies < 1 || r.Copies > queue.MaxCopies {
			t.Fatalf("copies %d", r.Copies)
		}
		if r.ExpiresIn < 0 || r.ExpiresIn > MaxExpiresIn {
			t.Fatalf("expires_in %s", r.ExpiresIn)
		}
		if len(r.IdempotencyKey) > queue.MaxKeyLen {
			t.Fatalf("key of %d bytes", len(r.IdempotencyKey))
		}
		if r.Metadata != nil && (!json.Valid(r.Metadata) || len(r.Metadata) > queue.MaxMetadataBytes || r.Metadata[0] != '{') {
			t.Fatalf("metadata %q", r.Metadata)
		}
		if r.Document != nil {
			if err := r.Document.Validate(); err != nil {
				t.Fatalf("accepted an invalid document: %v", err)
			}
		}
		if header != "" && r.IdempotencyKey != header {
			t.Fatalf("key %q, header %q", r.IdempotencyKey, header)
		}
	})
}
