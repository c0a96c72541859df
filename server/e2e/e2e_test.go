package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/queue"
)

const callbackSecret = "callback-secret-for-e2e"

// serveHCL is the configuration of the end-to-end tests: two sim printers
// with output directories; CALLBACK is replaced by the receiver's URL.
const serveHCL = `
server {
  listen          = "127.0.0.1:0"
  token           = "` + token + `"
  data_dir        = "DATA"
  backends        = ["CALLBACK/cb/"]
  callback_secret = "` + callbackSecret + `"
}
printer "kitchen" {
  profile = "generic-80mm"
  sim { output = "OUT/kitchen" }
}
printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "OUT/bar"
    render = false
  }
}
`

// receiver is the backend's callback endpoint: it verifies each request
// with queue.VerifyRequest and records the callbacks.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	got  []queue.Callback
	bad  []string
	wake chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, wake: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb, err := queue.VerifyRequest(r, []byte(callbackSecret), 5*time.Minute, time.Now())
		rc.mu.Lock()
		if err != nil || !strings.HasPrefix(r.URL.Path, "/cb/") {
			rc.bad = append(rc.bad, r.URL.Path+": "+errString(err))
		} else {
			rc.got = append(rc.got, *cb)
		}
		rc.mu.Unlock()
		select {
		case rc.wake <- struct{}{}:
		default:
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// waitFor waits for a verified callback of job in state.
func (rc *receiver) waitFor(jobID, state string) []queue.Callback {
	rc.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		rc.mu.Lock()
		var mine []queue.Callback
		done := false
		for _, c := range rc.got {
			if c.Job != nil && c.Job.ID == jobID {
				mine = append(mine, c)
				if string(c.State) == state {
					done = true
				}
			}
		}
		bad := rc.bad
		rc.mu.Unlock()
		if len(bad) > 0 {
			rc.t.Fatalf("callbacks that did not verify: %q", bad)
		}
		if done {
			return mine
		}
		select {
		case <-rc.wake:
		case <-deadline:
			rc.t.Fatalf("no %s callback for job %s; got %d for it", state, jobID, len(mine))
		}
	}
}

func startServe(t *testing.T) (*env, *proc, *receiver) {
	rc := newReceiver(t)
	e := newEnv(t, strings.ReplaceAll(serveHCL, "CALLBACK", rc.srv.URL))
	return e, e.start(), rc
}

// TestServe runs the API end to end through the real binary.
func TestServe(t *testing.T) {
	e, p, rc := startServe(t)

	t.Run("legacy content and job_id", func(t *testing.T) {
		var j job
		st, body := p.do("POST", "/print", map[string]any{"content": "Mesa 7\n2x Café con leche\nGracias", "job_id": "django-4711"}, &j)
		if st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		if j.ID == "" || j.State != "queued" && j.State != "printing" && j.State != "printed" {
			t.Fatalf("answer %s", body)
		}
		if j.IdempotencyKey != "django-4711" || !bytes.Contains(j.Metadata, []byte(`"job_id":"django-4711"`)) {
			t.Errorf("job_id not kept as key and metadata: %s", body)
		}
		p.waitState(j.ID, "printed", 10*time.Second)
		txt := waitTicket(t, e.out+"/kitchen", j.ID)
		for _, want := range []string{"Mesa 7", "2x Café con leche", "Gracias"} {
			if !strings.Contains(txt, want) {
				t.Errorf("transcript lacks %q:\n%s", want, txt)
			}
		}
		// The backend retries the same job_id: the first job comes back.
		var again job
		st, body = p.do("POST", "/print", map[string]any{"content": "Mesa 7\n2x Café con leche\nGracias", "job_id": "django-4711"}, &again)
		if st != http.StatusOK || again.ID != j.ID || !again.Existed {
			t.Errorf("retry with the same job_id: %d %s, want 200 with job %s and existed", st, body, j.ID)
		}
	})

	t.Run("document with accents", func(t *testing.T) {
		doc := []map[string]any{
			{"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
			{"text": "Mesa 12 · Camarero: Lucía"},
			{"line": "-"},
			{"columns": []string{"2x Tortilla española", "17,00 €"}},
			{"text": "ñ á é í ó ú ü ¿ ¡ €"},
			{"text": "Sin cebolla ¡ojo!", "underline": true, "font": "b"},
			{"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
			{"barcode": "4006381333931", "type": "ean13", "hri": true},
			{"cut": "partial"},
		}
		var j job
		st, body := p.do("POST", "/print", map[string]any{"printer": "bar", "document": doc, "idempotency_key": "order-8812-bar"}, &j)
		if st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		p.waitState(j.ID, "printed", 10*time.Second)
		txt := waitTicket(t, e.out+"/bar", j.ID)
		for _, want := range []string{"ñ á é í ó ú ü ¿ ¡ €", "Lucía", "Tortilla española", "17,00 €", "Sin cebolla ¡ojo!"} {
			if !strings.Contains(txt, want) {
				t.Errorf("transcript lacks %q:\n%s", want, txt)
			}
		}
	})

	t.Run("raw bytes", func(t *testing.T) {
		raw := []byte("\x1b@Hola crudo\n\x1dV\x42\x00")
		var j job
		st, body := p.do("POST", "/print?wait=10s", map[string]any{"content_base64": base64.StdEncoding.EncodeToString(raw)}, &j)
		if st != http.StatusOK || j.State != "printed" {
			t.Fatalf("POST /print?wait: %d %s", st, body)
		}
		if txt := waitTicket(t, e.out+"/kitchen", j.ID); !strings.Contains(txt, "Hola crudo") {
			t.Errorf("transcript %q", txt)
		}
	})

	t.Run("202 then printed via GET, SSE and a signed callback", func(t *testing.T) {
		// Subscribe first so no event is missed.
		req, _ := http.NewRequest("GET", p.url+"/events?printer=kitchen", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("GET /events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		events := jobEvents(sseMessages(resp.Body))

		var j job
		st, body := p.do("POST", "/print", map[string]any{
			"content": "Pedido con aviso", "callback_url": rc.srv.URL + "/cb/print-status", "metadata": map[string]any{"order": 8812},
		}, &j)
		if st != http.StatusAccepted || j.State != "queued" {
			t.Fatalf("POST /print: %d %s, want 202 queued", st, body)
		}
		// GET /jobs/{id}.
		p.waitState(j.ID, "printed", 10*time.Second)
		// SSE.
		var states []string
		timeout := time.After(10 * time.Second)
	sse:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("event stream ended")
				}
				if ev.Job != nil && ev.Job.ID == j.ID {
					states = append(states, string(ev.State))
					if ev.State == "printed" {
						break sse
					}
				}
			case <-timeout:
				t.Fatalf("no printed event over SSE; got %v", states)
			}
		}
		if strings.Join(states, ",") != "queued,printing,printed" {
			t.Errorf("SSE states %v, want queued, printing, printed", states)
		}
		// Signed callback, verified with the queue's VerifyRequest.
		cbs := rc.waitFor(j.ID, "printed")
		if cbs[len(cbs)-1].Job.Metadata == nil || !bytes.Contains(cbs[len(cbs)-1].Job.Metadata, []byte("8812")) {
			t.Errorf("callback without the job's metadata: %+v", cbs[len(cbs)-1].Job)
		}
	})

	t.Run("SSE resumes after Last-Event-ID", func(t *testing.T) {
		stream := func(lastID string) (<-chan sseMessage, func()) {
			req, _ := http.NewRequest("GET", p.url+"/events?printer=kitchen", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if lastID != "" {
				req.Header.Set("Last-Event-ID", lastID)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /events: %v %v", resp, err)
			}
			return sseMessages(resp.Body), func() { resp.Body.Close() }
		}
		msgs, stop := stream("")
		var j job
		if st, body := p.do("POST", "/print?wait=10s", map[string]any{"content": "Sigo"}, &j); st != http.StatusOK {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		var ids []string
		for ev := range jobEvents(msgs) {
			if ev.Job != nil && ev.Job.ID == j.ID {
				ids = append(ids, ev.ID)
				if ev.State == "printed" {
					break
				}
			}
		}
		stop()
		if len(ids) != 3 {
			t.Fatalf("events of the job: %v", ids)
		}
		// Reconnecting after the first: the two after it come first.
		msgs, stop = stream(ids[0])
		defer stop()
		for _, want := range ids[1:] {
			select {
			case m := <-msgs:
				if m.event != "job" || m.id != want {
					t.Fatalf("replayed %s %s, want job %s", m.event, m.id, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no replay")
			}
		}
		// An ID the server does not keep: a gap message first.
		msgs, stop2 := stream("00000000000000000000000000")
		defer stop2()
		select {
		case m := <-msgs:
			if m.event != "gap" || !strings.Contains(m.data, "GET /jobs") {
				t.Fatalf("first message %+v, want a gap", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no gap message")
		}
	})

	t.Run("wait returns the final state", func(t *testing.T) {
		var j job
		st, body := p.do("POST", "/print?wait=10s", map[string]any{"content": "Espero"}, &j)
		if st != http.StatusOK || j.State != "printed" {
			t.Fatalf("POST /print?wait=10s: %d %s, want 200 printed", st, body)
		}
	})

	t.Run("render", func(t *testing.T) {
		req, _ := http.NewRequest("POST", p.url+"/render", strings.NewReader(`{"document":[{"text":"Vista previa ñ €"},{"cut":"full"}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("POST /render: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		img, err := png.Decode(resp.Body)
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if w := img.Bounds().Dx(); w != 576 {
			t.Errorf("width %d, want 576 (generic-80mm)", w)
		}
	})

	t.Run("test page", func(t *testing.T) {
		var j job
		st, body := p.do("POST", "/test?wait=10s", map[string]any{"printer": "bar"}, &j)
		if st != http.StatusOK || j.State != "printed" || j.Printer != "bar" {
			t.Fatalf("POST /test: %d %s", st, body)
		}
		txt := waitTicket(t, e.out+"/bar", j.ID)
		for _, want := range []string{"ñ á é í ó ú ü ¿ ¡ €", "bar", "generic-58mm", "sim"} {
			if !strings.Contains(txt, want) {
				t.Errorf("test page lacks %q:\n%s", want, txt)
			}
		}
	})

	t.Run("scan", func(t *testing.T) {
		var res struct {
			Devices []map[string]any `json:"devices"`
		}
		st, body := p.do("POST", "/scan", nil, &res)
		if st != 200 || res.Devices == nil {
			t.Errorf("POST /scan: %d %s, want 200 with a list of devices", st, body)
		}
	})

	t.Run("health and status", func(t *testing.T) {
		var h map[string]any
		st, body := p.do("GET", "/health", nil, &h, "Authorization", "")
		if st != 200 {
			t.Fatalf("GET /health without a token: %d %s", st, body)
		}
		for _, k := range []string{"status", "message", "timestamp", "active_ports", "total_printers", "printers"} {
			if _, ok := h[k]; !ok {
				t.Errorf("health lacks %q: %s", k, body)
			}
		}
		if h["status"] != "healthy" || h["total_printers"] != 2.0 || h["active_ports"] != 2.0 {
			t.Errorf("health %s", body)
		}
		if strings.Contains(string(body), token) || strings.Contains(string(body), e.dir) {
			t.Errorf("health shows a secret or a path: %s", body)
		}
		var s map[string]any
		st, body = p.do("GET", "/status", nil, &s)
		if st != 200 {
			t.Fatalf("GET /status: %d %s", st, body)
		}
		for _, k := range []string{"hostname", "version", "go_version", "uptime", "printers"} {
			if _, ok := s[k]; !ok {
				t.Errorf("status lacks %q: %s", k, body)
			}
		}
		ps, _ := s["printers"].([]any)
		if len(ps) != 2 {
			t.Fatalf("status printers: %s", body)
		}
		k := ps[0].(map[string]any)
		if k["name"] != "kitchen" || k["driver"] != "sim" || k["profile"] != "generic-80mm" || k["state"] != "online" {
			t.Errorf("kitchen in status: %v", k)
		}
		if _, ok := k["queue_depth"]; !ok {
			t.Errorf("no queue_depth: %v", k)
		}
		if st, body := p.do("GET", "/status", nil, nil, "Authorization", ""); st != 401 {
			t.Errorf("GET /status without a token: %d %s", st, body)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		st, body := p.do("GET", "/metrics", nil, nil, "Authorization", "")
		if st != 200 {
			t.Fatalf("GET /metrics: %d", st)
		}
		m := string(body)
		for _, want := range []string{
			`comandera_jobs_total{printer="kitchen",state="printed"}`,
			`comandera_jobs_total{printer="bar",state="queued"}`,
			`comandera_queue_depth{printer="kitchen"} 0`,
			`comandera_print_duration_seconds_bucket{printer="kitchen",le=`,
			`comandera_job_latency_seconds_count{printer="kitchen"}`,
			`comandera_printer_up{printer="kitchen"} 1`,
			`comandera_printer_up{printer="bar"} 1`,
			`comandera_callbacks_delivered_total`,
			`comandera_http_requests_total{code="202",route="POST /print"}`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		// At least 4 kitchen jobs printed so far.
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, `comandera_jobs_total{printer="kitchen",state="printed"} `); ok {
				if n, _ := strconv.Atoi(v); n < 4 {
					t.Errorf("kitchen printed %s jobs by the metrics, want at least 4", v)
				}
			}
		}
	})

	t.Run("jobs list, cancel and reprint", func(t *testing.T) {
		var list struct{ Jobs []job }
		if st, body := p.do("GET", "/jobs?printer=kitchen&state=printed&limit=2", nil, &list); st != 200 || len(list.Jobs) != 2 {
			t.Fatalf("GET /jobs: %d %s", st, body)
		}
		orig := list.Jobs[0]
		var rp job
		st, body := p.do("POST", "/jobs/"+orig.ID+"/reprint?wait=10s", nil, &rp)
		if st != 200 || !rp.Reprint || rp.State != "printed" {
			t.Fatalf("reprint: %d %s", st, body)
		}
		if txt := waitTicket(t, e.out+"/kitchen", rp.ID); !strings.Contains(txt, "REPRINT") {
			t.Errorf("reprinted ticket lacks the REPRINT line:\n%s", txt)
		}
		if st, body := p.do("DELETE", "/jobs/"+orig.ID, nil, nil); st != http.StatusConflict {
			t.Errorf("cancel a printed job: %d %s, want 409", st, body)
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("SIGTERM: exit code %d, want 0\n%s", code, p.logs())
	}
}

// TestAuth checks the token and the slowing of repeated failures.
func TestAuth(t *testing.T) {
	e, p, _ := startServe(t)
	_ = e
	if st, body := p.do("GET", "/printers", nil, nil); st != 200 {
		t.Fatalf("with the token: %d %s", st, body)
	}
	if st, body := p.do("GET", "/printers", nil, nil, "Authorization", ""); st != 401 || !strings.Contains(string(body), `"code":"unauthorized"`) {
		t.Fatalf("without a token: %d %s", st, body)
	}
	for i := 0; i < 4; i++ {
		if st, body := p.do("GET", "/printers", nil, nil, "Authorization", "Bearer wrong"); st != 401 {
			t.Fatalf("wrong token %d: %d %s", i, st, body)
		}
	}
	// Five failures in a row: the address is locked out, even with the
	// right token, and told when to come back.
	req, _ := http.NewRequest("GET", p.url+"/printers", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Public paths stay open.
	if st, _ := p.do("GET", "/health", nil, nil, "Authorization", ""); st != 200 {
		t.Errorf("/health during a lockout: %d", st)
	}
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	time.Sleep(time.Duration(secs)*time.Second + 100*time.Millisecond)
	if st, body := p.do("GET", "/printers", nil, nil); st != 200 {
		t.Fatalf("after Retry-After with the token: %d %s", st, body)
	}
}

// sseMessage is one Server-Sent Events message.
type sseMessage struct{ id, event, data string }

// sseMessages reads the messages of an event stream until it ends.
func sseMessages(body io.Reader) <-chan sseMessage {
	out := make(chan sseMessage, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			case line == "":
				if m.event != "" {
					out <- m
				}
				m = sseMessage{}
			}
		}
	}()
	return out
}

// jobEvents decodes the job events among msgs.
func jobEvents(msgs <-chan sseMessage) <-chan queue.Event {
	out := make(chan queue.Event, 100)
	go func() {
		defer close(out)
		for m := range msgs {
			var ev queue.Event
			if m.event == "job" && json.Unmarshal([]byte(m.data), &ev) == nil && ev.ID == m.id {
				out <- ev
			}
		}
	}()
	return out
}
