package mqtt

import (
	"net/http"
	"strings"
	"testing"

	"github.com/comandera/comandera/server"
)

// ParseJob takes any bytes from the broker: it returns a request or a
// *server.Error with a 4xx status, never panics, and derives a key when
// the job has none.
func FuzzParseJob(f *testing.F) {
	for _, s := range []string{
		`{"content": "hola"}`,
		`{"content": "x", "idempotency_key": "k", "correlation_id": "c"}`,
		`{"document": [{"text": "COCINA", "bold": true}, {"cut": "partial"}], "printer": "bar", "copies": 2}`,
		`{"content_base64": "G0AK"}`,
		`{"content": "x", "correlation_id": 7}`,
		`{"correlation_id": "c"}`,
		`{"content": "x", "job_id": 8812, "metadata": {"mesa": 12}}`,
		`[]`, ``, `null`, `{"content": "x"} trailing`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, corr, err := ParseJob(payload, 64<<10)
		if err != nil {
			e, ok := err.(*server.Error)
			if !ok || e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
				t.Fatalf("error %T %v", err, err)
			}
			if req != nil {
				t.Fatal("a request with an error")
			}
			return
		}
		if req == nil || req.IdempotencyKey == "" {
			t.Fatalf("request %+v", req)
		}
		if len(corr) > MaxCorrelationID {
			t.Fatalf("correlation %d bytes", len(corr))
		}
		if strings.HasPrefix(req.IdempotencyKey, DerivedKeyPrefix) && req.IdempotencyKey != DerivedKey(payload) && req.JobID == "" {
			t.Fatalf("derived key %q is not the payload's", req.IdempotencyKey)
		}
	})
}

// ParseRequest takes any op and bytes: a request or a 4xx *server.Error.
func FuzzParseRequest(f *testing.F) {
	for _, c := range []struct{ op, body string }{
		{OpStatus, ``},
		{OpJob, `{"job_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "correlation_id": "x"}`},
		{OpJobs, `{"printer": "kitchen", "state": "queued", "limit": 5, "before": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}`},
		{OpReprint, `{"job_id": "x", "printer": "bar"}`},
		{OpTest, `{"printer": 5}`},
		{OpJobs, `{"limit": 1e9}`},
		{"nope", `{}`},
		{OpCancel, `{"job_id": ""}`},
	} {
		f.Add(c.op, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, op string, payload []byte) {
		r, err := ParseRequest(op, payload)
		if err != nil {
			e, ok := err.(*server.Error)
			if !ok || e.Status < 400 || e.Status > 499 || e.Code == "" {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if r.Op != op {
			t.Fatalf("op %q for %q", r.Op, op)
		}
		if (op == OpJob || op == OpCancel || op == OpReprint) && r.JobID == "" {
			t.Fatal("no job_id")
		}
		if op == OpJobs && (r.Filter.Limit < 1 || r.Filter.Limit > 1000) {
			t.Fatalf("limit %d", r.Filter.Limit)
		}
	})
}

func TestParseJob(t *testing.T) {
	for _, c := range []struct {
		payload string
		key     string // "" : derived
		corr    string
		status  int
		code    string
	}{
		{payload: `{"content": "x"}`},
		{payload: `{"content": "x", "idempotency_key": "k1"}`, key: "k1"},
		{payload: `{"content": "x", "job_id": 8812}`, key: "8812"},
		{payload: `{"content": "x", "correlation_id": "c1"}`, corr: "c1"},
		{payload: `{"content": "x", "correlation_id": null}`},
		{payload: `{"content": "x", "correlation_id": "` + strings.Repeat("c", 300) + `"}`, status: 400, code: server.CodeInvalidRequest},
		{payload: `{"content": "x", "extra": 1}`, status: 400, code: server.CodeUnknownField},
		{payload: `{"content": `, status: 400, code: server.CodeInvalidJSON},
		{payload: `{"content": "` + strings.Repeat("x", 2000) + `"}`, status: http.StatusRequestEntityTooLarge, code: server.CodeTooLarge},
	} {
		req, corr, err := ParseJob([]byte(c.payload), 1024)
		if c.status != 0 {
			e, _ := err.(*server.Error)
			if e == nil || e.Status != c.status || e.Code != c.code {
				t.Errorf("%.60s: err %v, want %d %s", c.payload, err, c.status, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.60s: %v", c.payload, err)
			continue
		}
		want := c.key
		if want == "" {
			want = DerivedKey([]byte(c.payload))
		}
		if req.IdempotencyKey != want || corr != c.corr {
			t.Errorf("%.60s: key %q corr %q, want %q %q", c.payload, req.IdempotencyKey, corr, want, c.corr)
		}
	}
	// The derived key is the message's: the same bytes, the same key; a
	// byte more, another.
	a := DerivedKey([]byte(`{"content": "x"}`))
	if a != DerivedKey([]byte(`{"content": "x"}`)) || a == DerivedKey([]byte(`{"content": "x" }`)) || len(a) > 255 {
		t.Errorf("derived key %q", a)
	}
}
