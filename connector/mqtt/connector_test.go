package mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/comandera/comandera/queue"
	"github.com/comandera/comandera/server"
)

// A job published on P/jobs prints, and each state change comes back on
// P/events as the HTTP callback's body, signed the same way.
func TestJobPrintsWithSignedEvents(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-1").start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Events, tp.Status)

	be.publish(tp.Jobs, jobJSON("A1", "idempotency_key", "order-1", "printer", "bar"), nil)
	m := be.waitFor(10*time.Second, "printed event", isEvent(tp, "printed", "order-1"))
	cb := decodeEvent(t, m)
	if cb.Job.Printer != "bar" || cb.Attempt != 1 || cb.Timestamp == 0 || cb.Previous != "printing" {
		t.Errorf("event = %+v, job %+v", cb, cb.Job)
	}
	// The whole life, in order.
	var states []string
	for _, m := range be.messages(tp.Events) {
		cb := decodeEvent(t, m)
		if cb.Job.IdempotencyKey == "order-1" {
			states = append(states, string(cb.State))
		}
	}
	if got := strings.Join(states, ","); got != "queued,printing,printed" {
		t.Errorf("states = %s", got)
	}
	checkOnce(t, b.tickets([]string{"A1"}), []string{"A1"})

	// The signature is the HTTP callback's: the body verifies with the
	// server's callback secret and nothing else.
	if err := queue.Verify([]byte("another secret"), m.Payload, m.Properties.User.Get(PropSignature)); err == nil {
		t.Error("the event verifies with a wrong secret")
	}
	if m.Properties.ContentType != "application/json" {
		t.Errorf("content type %q", m.Properties.ContentType)
	}

	// The retained status says online, with the printers.
	s := be.waitStatus(tp, true, 5*time.Second)
	if s.ClientID != "box-1" || len(s.Printers) != 2 || s.Printers[0].Name != "kitchen" || s.Health == "" {
		t.Errorf("status = %+v", s)
	}
	st := b.conn.Stats()
	if st.Queued != 1 || st.Received != 1 || st.Rejected != 0 || !st.Connected {
		t.Errorf("stats = %+v", st)
	}
}

// Jobs published while the box is off (after it has connected once, so the
// broker keeps its session) are delivered and printed when it comes back,
// once each, in order.
func TestOfflineJobsPrintOnReconnect(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-off").start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Events)
	b.stop()

	var markers []string
	for i := range 30 {
		m := fmt.Sprintf("OFF%02d", i)
		markers = append(markers, m)
		// No idempotency key: the key derived from the message dedups.
		be.publish(tp.Jobs, jobJSON(m), nil)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(countTickets(t, b.out, nil)); n != 0 {
		t.Fatalf("%d tickets printed while the box was off", n)
	}
	b.start().connected()
	checkOnce(t, waitTickets(t, b.out, markers, 20*time.Second), markers)

	// (The order they print in is the order the broker delivers them:
	// mochi does not keep the publication order when it resends to a
	// resumed session, as MQTT requires; the Mosquitto test checks it.)
	jobs, err := b.svc.Jobs(queue.Filter{Printer: "kitchen", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 30 {
		t.Fatalf("%d jobs", len(jobs))
	}
	for _, j := range jobs {
		if !strings.HasPrefix(j.IdempotencyKey, DerivedKeyPrefix) {
			t.Errorf("job %s key %q", j.ID, j.IdempotencyKey)
		}
	}
	// Events of jobs printed after the reconnect reach the backend.
	be.waitFor(10*time.Second, "printed event", func(p *paho.Publish) bool {
		return p.Topic == tp.Events && strings.Contains(string(p.Payload), `"state":"printed"`)
	})
}

// A message whose job is queued but whose acknowledgement never reaches the
// broker is delivered again, and the redelivery prints nothing more.
func TestRedeliveryPrintsOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash string // "before" the job is queued, or "after" (before the ack)
		key   string
	}{
		{"after queue, derived key", "after", ""},
		{"after queue, idempotency key", "after", "order-77"},
		{"before queue", "before", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := startBroker(t, "", nil)
			b := newBox(t, br.url(), "box-redeliver")
			var drops atomic.Int32
			hook := func(p *paho.Publish) bool {
				// The first time only: the connection dies before the ack
				// (and before the job is queued, the message is dropped as
				// a crash would).
				if drops.Add(1) == 1 {
					b.conn.cm.TerminateConnectionForTest()
					return false
				}
				return true
			}
			if tc.crash == "after" {
				b.opts.afterQueue = func(p *paho.Publish) { hook(p) }
			} else {
				b.opts.beforeQueue = hook
			}
			b.start().connected()
			tp := b.conn.Topics()
			be := newBackend(t, br.url(), nil, tp.Events)
			var fields []string
			if tc.key != "" {
				fields = []string{"idempotency_key", tc.key}
			}
			be.publish(tp.Jobs, jobJSON("R1", fields...), nil)
			checkOnce(t, waitTickets(t, b.out, []string{"R1"}, 10*time.Second), []string{"R1"})
			// The redelivery came and was deduplicated (or, crashing before
			// the queue, queued the first time).
			deadline := time.Now().Add(10 * time.Second)
			for drops.Load() < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if drops.Load() < 2 {
				t.Fatal("the message was not delivered again")
			}
			st := b.conn.Stats()
			if tc.crash == "after" && (st.Duplicates != 1 || st.Queued != 1) {
				t.Errorf("stats = %+v, want 1 queued and 1 duplicate", st)
			}
			if tc.crash == "before" && (st.Duplicates != 0 || st.Queued != 1) {
				t.Errorf("stats = %+v, want 1 queued", st)
			}
			time.Sleep(300 * time.Millisecond) // nothing more comes
			checkOnce(t, b.tickets([]string{"R1"}), []string{"R1"})
			jobs, _ := b.svc.Jobs(queue.Filter{})
			if len(jobs) != 1 {
				t.Errorf("%d jobs, want 1", len(jobs))
			}
		})
	}
}

// Messages the server refuses are acknowledged (never delivered again),
// logged, and reported on P/errors with the HTTP API's code; the connector
// carries on.
func TestInvalidJobsAreReportedAndAcknowledged(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-bad").start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Errors, "backend/replies")
	bad := []struct {
		payload string
		status  int
		code    string
	}{
		{`{"content": "x"`, 400, server.CodeInvalidJSON},
		{``, 400, server.CodeInvalidJSON},
		{`[1,2]`, 400, server.CodeInvalidJSON},
		{"\xff\xfe", 400, server.CodeInvalidJSON},
		{`{"content": "x", "colour": "red"}`, 400, server.CodeUnknownField},
		{`{"content": "x", "printer": "terrace"}`, 404, server.CodeUnknownPrinter},
		{`{"document": [{"barcode": "12", "type": "ean13"}]}`, 400, server.CodeInvalidDocument},
		{`{"document": [{"sparkle": true}]}`, 400, server.CodeInvalidRequest},
		{`{"content": "x", "callback_url": "https://evil.example.com/"}`, 400, server.CodeCallbackRefused},
		{`{"content": "x", "correlation_id": 7}`, 400, server.CodeInvalidRequest},
		{`{"content": "` + strings.Repeat("x", 300<<10) + `"}`, 413, server.CodeTooLarge},
	}
	for i, c := range bad {
		be.publish(tp.Jobs, []byte(c.payload), nil)
		ms := be.waitCount(tp.Errors, i+1, 10*time.Second)
		checkSigned(t, ms[i])
		var r Rejection
		if err := json.Unmarshal(ms[i].Payload, &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != c.status || r.Error.Code != c.code || r.Topic != tp.Jobs || r.Error.Message == "" {
			t.Errorf("payload %.40q: rejection %+v, want %d %s", c.payload, r, c.status, c.code)
		}
	}
	// With an MQTT 5 response topic, the refusal is also the answer.
	be.publish(tp.Jobs, []byte(`{"content": "x", "printer": "terrace", "correlation_id": "c-9"}`),
		&paho.PublishProperties{ResponseTopic: "backend/replies", CorrelationData: []byte("cd-9")})
	m := be.waitFor(10*time.Second, "reply", func(p *paho.Publish) bool { return p.Topic == "backend/replies" })
	var r Reply
	json.Unmarshal(m.Payload, &r)
	if r.Status != 404 || r.Error == nil || r.Error.Code != server.CodeUnknownPrinter || r.CorrelationID != "c-9" || string(m.Properties.CorrelationData) != "cd-9" {
		t.Errorf("reply %+v (correlation data %q)", r, m.Properties.CorrelationData)
	}

	// A good job after all that prints, and nothing bad came back after a
	// reconnect (they were all acknowledged).
	be.publish(tp.Jobs, jobJSON("GOOD"), nil)
	waitTickets(t, b.out, []string{"GOOD"}, 10*time.Second)
	n := len(be.messages(tp.Errors))
	b.conn.cm.TerminateConnectionForTest()
	b.connected()
	be.publish(tp.Jobs, jobJSON("GOOD2"), nil)
	waitTickets(t, b.out, []string{"GOOD2"}, 10*time.Second)
	if got := len(be.messages(tp.Errors)); got != n {
		t.Errorf("%d more rejections after a reconnect: refused messages were delivered again", got-n)
	}
	if st := b.conn.Stats(); st.Rejected != uint64(len(bad)+1) {
		t.Errorf("rejected = %d, want %d", st.Rejected, len(bad)+1)
	}
}

// A job the server cannot take now (its queue is full) is not refused: it
// stays unacknowledged and is queued when there is room.
func TestFullQueueRetries(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-full", withQueueLimit(1))
	b.start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Errors)
	// The kitchen is offline: jobs wait in its queue.
	touch(t, b.out+"/kitchen/OFFLINE")
	be.publish(tp.Jobs, jobJSON("F1"), nil)
	be.publish(tp.Jobs, jobJSON("F2"), nil) // queue full: retried
	time.Sleep(500 * time.Millisecond)
	if jobs, _ := b.svc.Jobs(queue.Filter{}); len(jobs) != 1 {
		t.Fatalf("%d jobs queued, want 1 (the second waits for room)", len(jobs))
	}
	remove(t, b.out+"/kitchen/OFFLINE")
	checkOnce(t, waitTickets(t, b.out, []string{"F1", "F2"}, 20*time.Second), []string{"F1", "F2"})
	if n := len(be.messages(tp.Errors)); n != 0 {
		t.Errorf("%d rejections", n)
	}
}

// Every request gets its answer, with MQTT 5 response topic and
// correlation data, or on P/replies with the body's correlation_id (the
// MQTT 3.1.1 way).
func TestRequests(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-req").start().connected()
	be := newBackend(t, br.url(), nil, b.conn.Topics().Replies, b.conn.Topics().Events)
	checkRequests(t, b, be)
}

// checkRequests makes each request of a box through be and checks the
// answers.
func checkRequests(t *testing.T, b *box, be *backend) {
	tp := b.conn.Topics()
	r := be.request(tp, OpPrint, string(jobJSON("Q1", "idempotency_key", "q-1")))
	job := jobOf(t, r)
	if r.Status != 202 || job.ID == "" || job.IdempotencyKey != "q-1" {
		t.Fatalf("print: %+v", r)
	}
	waitTickets(t, b.out, []string{"Q1"}, 10*time.Second)
	// Printing it again returns the same job.
	r = be.request(tp, OpPrint, string(jobJSON("Q1", "idempotency_key", "q-1")))
	if r.Status != 200 || jobOf(t, r).ID != job.ID || !strings.Contains(string(mustJSON(r.Result)), `"existed":true`) {
		t.Errorf("print again: %+v", r)
	}

	r = be.request(tp, OpJob, `{"job_id": "`+job.ID+`"}`)
	if r.Status != 200 || jobOf(t, r).State != "printed" || !strings.Contains(string(mustJSON(r.Result)), `"content":"TICKET Q1\n"`) {
		t.Errorf("job: %+v", r)
	}
	r = be.request(tp, OpJobs, `{"printer": "kitchen", "state": "printed", "limit": 5}`)
	if r.Status != 200 || !strings.Contains(string(mustJSON(r.Result)), job.ID) {
		t.Errorf("jobs: %+v", r)
	}
	r = be.request(tp, OpStatus, ``)
	if r.Status != 200 || !strings.Contains(string(mustJSON(r.Result)), `"printers":[`) {
		t.Errorf("status: %+v", r)
	}
	r = be.request(tp, OpHealth, `{}`)
	if r.Status != 200 || !strings.Contains(string(mustJSON(r.Result)), `"total_printers":2`) {
		t.Errorf("health: %+v", r)
	}
	r = be.request(tp, OpScan, `{}`)
	if r.Status != 200 || !strings.Contains(string(mustJSON(r.Result)), `"devices":`) {
		t.Errorf("scan: %+v", r)
	}
	r = be.request(tp, OpTest, `{"printer": "bar"}`)
	test := jobOf(t, r)
	if r.Status != 202 || test.Printer != "bar" {
		t.Errorf("test: %+v", r)
	}
	r = be.request(tp, OpReprint, `{"job_id": "`+job.ID+`", "printer": "bar"}`)
	if rep := jobOf(t, r); r.Status != 202 || rep.ReprintOf != job.ID || rep.Printer != "bar" {
		t.Errorf("reprint: %+v", r)
	}
	// Cancel: a printed job cannot be (409); a queued one can.
	r = be.request(tp, OpCancel, `{"job_id": "`+job.ID+`"}`)
	if r.Status != 409 || r.Error == nil || r.Error.Code != server.CodeConflict {
		t.Errorf("cancel printed: %+v", r)
	}
	touch(t, b.out+"/kitchen/OFFLINE")
	r = be.request(tp, OpPrint, string(jobJSON("Q2")))
	q2 := jobOf(t, r)
	r = be.request(tp, OpCancel, `{"job_id": "`+q2.ID+`"}`)
	if r.Status != 200 || jobOf(t, r).State != "canceled" {
		t.Errorf("cancel: %+v", r)
	}
	remove(t, b.out+"/kitchen/OFFLINE")

	// Errors: the HTTP API's codes.
	for _, c := range []struct{ op, body, code string }{
		{OpJob, `{"job_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, server.CodeNotFound},
		{OpJob, `{}`, server.CodeInvalidRequest},
		{OpJob, `{"id": "x"}`, server.CodeUnknownField},
		{OpTest, `{"printer": "terrace"}`, server.CodeUnknownPrinter},
		{OpJobs, `{"state": "lost"}`, server.CodeInvalidRequest},
		{OpJobs, `{"limit": 0}`, server.CodeInvalidRequest},
		{OpStatus, `not json`, server.CodeInvalidJSON},
		{"launch", `{}`, server.CodeNotFound},
		{OpPrint, `{"content": ""}`, server.CodeInvalidRequest},
	} {
		r := be.request(tp, c.op, c.body)
		if r.Error == nil || r.Error.Code != c.code || r.Status < 400 {
			t.Errorf("%s %s: %+v, want %s", c.op, c.body, r, c.code)
		}
	}

	// Without a response topic: P/replies, matched by correlation_id.
	be.publish(tp.Request(OpHealth), []byte(`{"correlation_id": "plain-1"}`), nil)
	m := be.waitFor(10*time.Second, "reply on P/replies", func(p *paho.Publish) bool {
		return p.Topic == tp.Replies && strings.Contains(string(p.Payload), `"plain-1"`)
	})
	var rr Reply
	json.Unmarshal(m.Payload, &rr)
	if rr.Op != OpHealth || rr.Status != 200 || rr.CorrelationID != "plain-1" {
		t.Errorf("reply on P/replies: %s", m.Payload)
	}
	be.publish(tp.Request(OpPrint), jobJSON("Q3", "correlation_id", "plain-2"), nil)
	m = be.waitFor(10*time.Second, "print reply on P/replies", func(p *paho.Publish) bool {
		return p.Topic == tp.Replies && strings.Contains(string(p.Payload), `"plain-2"`)
	})
	json.Unmarshal(m.Payload, &rr)
	if rr.Status != 202 || rr.Op != OpPrint {
		t.Errorf("print reply on P/replies: %s", m.Payload)
	}
	waitTickets(t, b.out, []string{"Q3"}, 10*time.Second)
	// A response topic with a wildcard cannot be published to: P/replies.
	be.publish(tp.Request(OpHealth), []byte(`{"correlation_id": "wild"}`), &paho.PublishProperties{ResponseTopic: "x/#"})
	be.waitFor(10*time.Second, "reply despite a bad response topic", func(p *paho.Publish) bool {
		return p.Topic == tp.Replies && strings.Contains(string(p.Payload), `"wild"`)
	})
}

func jobOf(t testing.TB, r Reply) server.JobResponse {
	t.Helper()
	var j server.JobResponse
	if r.Result == nil {
		return j
	}
	if err := json.Unmarshal(mustJSON(r.Result), &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The retained status: online with printers and queue depths, refreshed on
// change; the will marks the box offline when its connection drops without
// a DISCONNECT, and a clean stop says "shutdown".
func TestStatusAndWill(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-status").start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Status)
	s := be.waitStatus(tp, true, 5*time.Second)
	if s.Printers[0].QueueDepth != 0 {
		t.Fatalf("status %+v", s)
	}
	touch(t, b.out+"/kitchen/OFFLINE")
	pub := newBackend(t, br.url(), nil)
	pub.publish(tp.Jobs, jobJSON("S1"), nil)
	pub.publish(tp.Jobs, jobJSON("S2"), nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := be.lastStatus(tp)
		if len(s.Printers) > 0 && s.Printers[0].QueueDepth+boolInt(s.Printers[0].CurrentJob != "") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue depth not in the status: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	remove(t, b.out+"/kitchen/OFFLINE")
	waitTickets(t, b.out, []string{"S1", "S2"}, 10*time.Second)

	// A new subscriber gets the retained status.
	late := newBackend(t, br.url(), nil, tp.Status)
	late.waitStatus(tp, true, 5*time.Second)

	// The connection drops: the broker publishes the will.
	n := len(be.messages(tp.Status))
	b.conn.cm.TerminateConnectionForTest()
	s = be.waitStatusAfter(tp, n, false, 5*time.Second)
	if s.Reason != "connection lost" || s.ClientID != "box-status" {
		t.Errorf("will = %+v", s)
	}
	for _, m := range be.messages(tp.Status)[n:] {
		checkSigned(t, m)
	}
	// Back online by itself.
	be.waitStatus(tp, true, 10*time.Second)
	b.stop()
	s = be.waitStatus(tp, false, 5*time.Second)
	if s.Reason != "shutdown" {
		t.Errorf("offline status = %+v", s)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// envelope = true: every message carries its signature in the payload, for
// MQTT 3.1.1 bridges that drop user properties.
func TestEnvelope(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, br.url(), "box-env", withMQTT("  envelope = true")).start().connected()
	tp := b.conn.Topics()
	be := newBackend(t, br.url(), nil, tp.Events, tp.Status)
	be.publish(tp.Jobs, jobJSON("E1", "idempotency_key", "env-1"), nil)
	m := be.waitFor(10*time.Second, "printed event", func(p *paho.Publish) bool {
		if p.Topic != tp.Events {
			return false
		}
		var env Envelope
		return json.Unmarshal(p.Payload, &env) == nil && strings.Contains(env.Body, `"state":"printed"`)
	})
	var env Envelope
	if err := json.Unmarshal(m.Payload, &env); err != nil {
		t.Fatal(err)
	}
	if err := queue.Verify([]byte(testSecret), []byte(env.Body), env.Signature); err != nil {
		t.Fatalf("envelope signature: %v", err)
	}
	if m.Properties.User.Get(PropSignature) != "" {
		t.Error("signature also in a user property")
	}
	var cb queue.Callback
	if err := json.Unmarshal([]byte(env.Body), &cb); err != nil || cb.Job.IdempotencyKey != "env-1" {
		t.Errorf("body %s: %v", env.Body, err)
	}
	ms := be.messages(tp.Status)
	if len(ms) == 0 || json.Unmarshal(ms[0].Payload, &env) != nil || !strings.Contains(env.Body, `"online":true`) {
		t.Errorf("status not in an envelope: %s", ms[0].Payload)
	}
}

// A connector whose broker is down starts anyway and connects when the
// broker comes up; a stop while disconnected is prompt. With MQTT 5 and
// with 3.1.1.
func TestStartsWithoutBroker(t *testing.T) {
	for _, proto := range []string{"auto", "3.1.1"} {
		t.Run(proto, func(t *testing.T) {
			addr := freePort(t)
			b := newBox(t, "mqtt://"+addr, "box-late", withMQTT(`  protocol = "`+proto+`"`)).start()
			deadline := time.Now().Add(5 * time.Second)
			for b.conn.Stats().ConnectErrors == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if b.conn.Connected() || b.conn.Stats().ConnectErrors == 0 {
				t.Fatalf("stats = %+v", b.conn.Stats())
			}
			if info := b.conn.Info(); info.LastError == "" || info.Connected {
				t.Errorf("info = %+v", info)
			}
			startBroker(t, addr, nil)
			b.connected()
			want := map[string]string{"auto": "5", "3.1.1": "3.1.1"}[proto]
			if got := b.conn.Protocol(); got != want {
				t.Errorf("protocol %q, want %q", got, want)
			}

			c := newBox(t, "mqtt://"+freePort(t), "box-never", withMQTT(`  protocol = "`+proto+`"`)).start()
			start := time.Now()
			c.stop()
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("stop took %s: it waits for a broker that is not there", d)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	br := startBroker(t, "", nil)
	b := newBox(t, "mqtts://"+br.addr, "box-tls", withMQTT(`  tls {
    ca = "/nonexistent/ca.pem"
  }`))
	svc, err := server.Open(context.Background(), b.cfg, server.Options{ProbeEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	if _, err := Start(svc, b.cfg.MQTT, Options{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Errorf("err = %v", err)
	}
	if _, err := Start(svc, nil, Options{}); err == nil {
		t.Error("no error for a nil config")
	}
}
