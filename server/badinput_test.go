package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestBadInput sends every kind of bad request the API must refuse, and
// checks the status, the error code and that the message names the
// problem.
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, testHCL)
	big := `{"content": "` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name         string
		method, path string
		body         string
		hdr          []string
		status       int
		code         string
		msg          string
	}{
		{"body over max_body", "POST", "/print", big, nil, 413, CodeTooLarge, "larger than 64 KiB"},
		{"bad JSON", "POST", "/print", `{"content": "x"`, nil, 400, CodeInvalidJSON, "invalid JSON"},
		{"JSON syntax error", "POST", "/print", `{"content": x}`, nil, 400, CodeInvalidJSON, "invalid JSON at byte"},
		{"not an object", "POST", "/print", `["content"]`, nil, 400, CodeInvalidJSON, "must be a JSON object, not an array"},
		{"empty body", "POST", "/print", ` `, nil, 400, CodeInvalidJSON, "empty body"},
		{"trailing data", "POST", "/print", `{"content": "x"} {}`, nil, 400, CodeInvalidJSON, "unexpected data after the JSON object"},
		{"unknown printer", "POST", "/print", `{"printer": "terraza", "content": "x"}`, nil, 404, CodeUnknownPrinter, `unknown printer "terraza"; the printers are kitchen, bar`},
		{"unknown field", "POST", "/print", `{"content": "x", "colour": "red"}`, nil, 400, CodeUnknownField, `unknown field "colour"`},
		{"field name in another case", "POST", "/print", `{"CONTENT": "x"}`, nil, 400, CodeUnknownField, `unknown field "CONTENT"`},
		{"field twice", "POST", "/print", `{"content": "x", "printer": "bar", "content": "y"}`, nil, 400, CodeInvalidRequest, `field "content" appears twice`},
		{"render field in another case", "POST", "/render", `{"Content": "x"}`, nil, 400, CodeUnknownField, `unknown field "Content"`},
		{"two content kinds", "POST", "/print", `{"content": "x", "document": [{"text": "y"}]}`, nil, 400, CodeInvalidRequest, "content and document are both given"},
		{"three content kinds", "POST", "/print", `{"content": "x", "content_base64": "eA==", "document": [{"text": "y"}]}`, nil, 400, CodeInvalidRequest, "content and content_base64 and document are both given"},
		{"no content", "POST", "/print", `{"printer": "bar"}`, nil, 400, CodeInvalidRequest, "no content"},
		{"empty content", "POST", "/print", `{"content": ""}`, nil, 400, CodeInvalidRequest, "content is empty"},
		{"content not a string", "POST", "/print", `{"content": 42}`, nil, 400, CodeInvalidRequest, "content: want a string, got a JSON number"},
		{"wrong content type", "POST", "/print", `{"content": "x"}`, []string{"Content-Type", "text/plain"}, 415, CodeUnsupportedType, "Content-Type text/plain"},
		{"form content type", "POST", "/print", `content=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, CodeUnsupportedType, "application/json"},
		{"copies 0", "POST", "/print", `{"content": "x", "copies": 0}`, nil, 400, CodeInvalidRequest, "copies 0: want 1 to 50"},
		{"copies huge", "POST", "/print", `{"content": "x", "copies": 1000000}`, nil, 400, CodeInvalidRequest, "copies 1000000: want 1 to 50"},
		{"copies negative", "POST", "/print", `{"content": "x", "copies": -1}`, nil, 400, CodeInvalidRequest, "copies -1"},
		{"copies fraction", "POST", "/print", `{"content": "x", "copies": 1.5}`, nil, 400, CodeInvalidRequest, "copies: want a whole number, got 1.5"},
		{"copies string", "POST", "/print", `{"content": "x", "copies": "2"}`, nil, 400, CodeInvalidRequest, "copies: want a whole number"},
		{"callback to another host", "POST", "/print", `{"content": "x", "callback_url": "http://192.168.1.10/hooks/"}`, nil, 400, CodeCallbackRefused, "must start with a configured backend (https://backend.example.com/hooks/)"},
		{"callback path escape", "POST", "/print", `{"content": "x", "callback_url": "https://backend.example.com/hooks/../admin"}`, nil, 400, CodeCallbackRefused, "callback_url"},
		{"callback with credentials", "POST", "/print", `{"content": "x", "callback_url": "https://user:pw@backend.example.com/hooks/x"}`, nil, 400, CodeCallbackRefused, "callback_url"},
		{"expires_in words", "POST", "/print", `{"content": "x", "expires_in": "soon"}`, nil, 400, CodeInvalidRequest, `expires_in: "soon" is not a duration`},
		{"expires_in days", "POST", "/print", `{"content": "x", "expires_in": "2d"}`, nil, 400, CodeInvalidRequest, `expires_in: "2d" is not a duration`},
		{"expires_in negative", "POST", "/print", `{"content": "x", "expires_in": -5}`, nil, 400, CodeInvalidRequest, "expires_in -5s: want a positive duration"},
		{"expires_in zero", "POST", "/print", `{"content": "x", "expires_in": "0s"}`, nil, 400, CodeInvalidRequest, "want a positive duration"},
		{"expires_in huge", "POST", "/print", `{"content": "x", "expires_in": 1e12}`, nil, 400, CodeInvalidRequest, "out of range"},
		{"expires_in too long", "POST", "/print", `{"content": "x", "expires_in": "200h"}`, nil, 400, CodeInvalidRequest, "want at most 168h0m0s"},
		{"expires_in bool", "POST", "/print", `{"content": "x", "expires_in": true}`, nil, 400, CodeInvalidRequest, "expires_in: want a duration"},
		{"metadata not an object", "POST", "/print", `{"content": "x", "metadata": [1, 2]}`, nil, 400, CodeInvalidRequest, "metadata must be a JSON object"},
		{"bad base64", "POST", "/print", `{"content_base64": "%%%"}`, nil, 400, CodeInvalidRequest, "content_base64: not valid base64"},
		{"key header differs", "POST", "/print", `{"content": "x", "idempotency_key": "a"}`, []string{"Idempotency-Key", "b"}, 400, CodeInvalidRequest, "Idempotency-Key header \"b\" and idempotency_key \"a\" differ"},
		{"key too long", "POST", "/print", `{"content": "x", "idempotency_key": "` + strings.Repeat("k", 300) + `"}`, nil, 400, CodeInvalidRequest, "idempotency key is 300 bytes"},
		{"job_id object", "POST", "/print", `{"content": "x", "job_id": {}}`, nil, 400, CodeInvalidRequest, "job_id: want a string or a whole number"},
		{"document not an array", "POST", "/print", `{"document": {"text": "x"}}`, nil, 400, CodeInvalidRequest, "document must be an array of blocks"},
		{"document empty", "POST", "/print", `{"document": []}`, nil, 400, CodeInvalidRequest, "document is empty"},
		{"document unknown block", "POST", "/print", `{"document": [{"text": "a"}, {"txet": "b"}]}`, nil, 400, CodeInvalidRequest, "document[1]: block has no kind"},
		{"document bad option", "POST", "/print", `{"document": [{"text": "a", "width": 9}]}`, nil, 400, CodeInvalidRequest, "document[0]: width 9: want 1 to 8"},
		{"bad barcode", "POST", "/print", `{"document": [{"barcode": "12345", "type": "ean13"}]}`, nil, 400, "", "document[0]"},
		{"bad PNG", "POST", "/print", `{"document": [{"text": "logo:"}, {"image": "aGVsbG8gd29ybGQ="}]}`, nil, 400, CodeInvalidDocument, "document[1]"},
		{"wait bad", "POST", "/print?wait=forever", `{"content": "x"}`, nil, 400, CodeInvalidRequest, "wait:"},
		{"wait too long", "POST", "/print?wait=1h", `{"content": "x"}`, nil, 400, CodeInvalidRequest, "want 0 to 2m0s"},
		{"unknown query parameter", "POST", "/print?printer=bar", `{"content": "x"}`, nil, 400, CodeInvalidRequest, `unknown query parameter "printer"`},
		{"no token", "POST", "/print", `{"content": "x"}`, []string{"Authorization", ""}, 401, CodeUnauthorized, "missing token"},
		{"method", "GET", "/print", ``, nil, 405, CodeMethodNotAllowed, "GET /print is not served; use POST"},
		{"route", "GET", "/nope", ``, nil, 404, CodeNotFound, "no route /nope"},
		{"job", "GET", "/jobs/01M8CYMG709TJ6SZNNBSVK5XNR", ``, nil, 404, CodeNotFound, "job not found"},
		{"job ID malformed", "DELETE", "/jobs/42", ``, nil, 404, CodeNotFound, "job not found"},
		{"jobs bad state", "GET", "/jobs?state=lost", ``, nil, 400, CodeInvalidRequest, `state "lost": want one of`},
		{"jobs bad limit", "GET", "/jobs?limit=0", ``, nil, 400, CodeInvalidRequest, "limit \"0\""},
		{"jobs unknown printer", "GET", "/jobs?printer=terraza", ``, nil, 404, CodeUnknownPrinter, "terraza"},
		{"test unknown printer", "POST", "/test", `{"printer": "terraza"}`, nil, 404, CodeUnknownPrinter, "terraza"},
		{"test unknown field", "POST", "/test", `{"printr": "bar"}`, nil, 400, CodeUnknownField, `unknown field "printr"`},
		{"render unknown profile", "POST", "/render", `{"profile": "tm-9000", "content": "x"}`, nil, 404, CodeNotFound, "tm-9000"},
		{"render printer and profile", "POST", "/render", `{"printer": "bar", "profile": "generic-58mm", "content": "x"}`, nil, 400, CodeInvalidRequest, "printer and profile are both given"},
		{"render no content", "POST", "/render", `{}`, nil, 400, CodeInvalidRequest, "no content"},
		{"events unknown printer", "GET", "/events?printer=terraza", ``, nil, 404, CodeUnknownPrinter, "terraza"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e ErrorBody
			st, body := ts.call(c.method, c.path, c.body, &e, c.hdr...)
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, body)
			}
			if c.code != "" && e.Error.Code != c.code {
				t.Errorf("code %q, want %q: %s", e.Error.Code, c.code, body)
			}
			if !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("message %q does not contain %q", e.Error.Message, c.msg)
			}
		})
	}
}

// TestQueueFull fills a printer whose paper is out: the next job gets 429
// with Retry-After and a message naming the printer.
func TestQueueFull(t *testing.T) {
	ts := newTestServer(t, testHCL)
	ts.fault("kitchen", "PAPER_OUT", true)
	for i := 0; i < 3; i++ {
		if st, body := ts.call("POST", "/print", fmt.Sprintf(`{"content": "ticket %d"}`, i), nil); st != 202 {
			t.Fatalf("job %d: %d %s", i, st, body)
		}
	}
	resp := ts.request("POST", "/print", `{"content": "one too many"}`)
	defer resp.Body.Close()
	var e ErrorBody
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 429 || e.Error.Code != CodeQueueFull || !strings.Contains(e.Error.Message, `printer "kitchen" has 3 jobs waiting (limit 3)`) {
		t.Fatalf("%d %+v", resp.StatusCode, e)
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// Another printer is not affected.
	if st, body := ts.call("POST", "/print", `{"printer": "bar", "content": "x"}`, nil); st != 202 {
		t.Errorf("bar: %d %s", st, body)
	}
	// Cancel a queued job: 200, then 409 the second time.
	var list JobList
	ts.call("GET", "/jobs?printer=kitchen&state=queued", "", &list)
	if len(list.Jobs) != 3 {
		t.Fatalf("queued kitchen jobs: %d", len(list.Jobs))
	}
	id := list.Jobs[0].ID
	if st, body := ts.call("DELETE", "/jobs/"+id, "", nil); st != 200 || !strings.Contains(body, `"state":"canceled"`) {
		t.Fatalf("cancel: %d %s", st, body)
	}
	var e2 ErrorBody
	if st, _ := ts.call("DELETE", "/jobs/"+id, "", &e2); st != 409 || e2.Error.Code != CodeConflict || !strings.Contains(e2.Error.Message, "already canceled") {
		t.Errorf("cancel twice: %d %+v", st, e2)
	}
	// Room again for one.
	if st, body := ts.call("POST", "/print", `{"content": "now it fits"}`, nil); st != 202 {
		t.Errorf("after a cancel: %d %s", st, body)
	}
}
