package mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"gopkg.in/yaml.v3"

	"github.com/comandera/comandera/queue"
	"github.com/comandera/comandera/server"
)

// eventStates returns, per job idempotency key, the states of its events
// in the order they arrived (each event once, by event_id), checking every
// signature.
func eventStates(t testing.TB, msgs []*paho.Publish) (map[string][]string, int) {
	t.Helper()
	seen := map[string]bool{}
	states := map[string][]string{}
	dups := 0
	for _, m := range msgs {
		cb := decodeEvent(t, m)
		if seen[cb.ID] {
			dups++
			continue
		}
		seen[cb.ID] = true
		states[cb.Job.IdempotencyKey] = append(states[cb.Job.IdempotencyKey], string(cb.State))
	}
	return states, dups
}

// Events of jobs printed while the broker is unreachable wait on disk: the
// box is stopped, the broker comes up, the box starts again, and every
// event is published, signed, in order.
func TestEventsWaitOnDisk(t *testing.T) {
	addr := freePort(t)
	b := newBox(t, "mqtt://"+addr, "box-disk")
	b.qopts = func(o *queue.Options) { o.Sink.Drain = 50 * time.Millisecond }
	b.start()
	var keys []string
	for i := range 4 {
		key := fmt.Sprintf("disk-%d", i)
		keys = append(keys, key)
		req, _, err := ParseJob(jobJSON("W"+fmt.Sprint(i), "idempotency_key", key), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.svc.Print(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	waitTickets(t, b.out, []string{"W0", "W1", "W2", "W3"}, 10*time.Second)
	eventually(t, "12 events waiting", func() bool { return b.conn.Stats().EventsPending == 12 })
	if info := b.conn.Info(); info.Connected || info.PendingEvents != 12 || !strings.Contains(info.LastError, "connection refused") {
		t.Errorf("info while the broker is down: %+v", info)
	}
	b.stop()

	br := startBroker(t, addr, nil)
	tp := TopicsFor("comandera/box-disk")
	be := newBackend(t, br.url(), nil, tp.Events)
	b.start()
	for _, key := range keys {
		be.waitFor(10*time.Second, "printed event of "+key, isEvent(tp, "printed", key))
	}
	states, _ := eventStates(t, be.messages(tp.Events))
	for _, key := range keys {
		if got := strings.Join(states[key], ","); got != "queued,printing,printed" {
			t.Errorf("%s: events %s", key, got)
		}
	}
	eventually(t, "the sink empty", func() bool { return b.conn.Stats().EventsPending == 0 })
	if st := b.conn.Stats(); st.Events < 12 || st.EventsDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// GET /status has the connector: its broker without credentials, whether
// it is connected and why not, and the events waiting. Every field it
// answers is in docs/openapi.yaml, and the Connector schema is exactly
// server.ConnectorInfo.
func TestStatusReportsConnector(t *testing.T) {
	br := startBroker(t, "", nil)
	const password = "s3cret-broker-pass"
	b := newBox(t, "mqtt://restaurant:"+password+"@"+br.addr, "box-status").start().connected()

	status := func() (map[string]any, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/status", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		b.svc.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("GET /status: %d %s", rec.Code, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m, rec.Body.String()
	}
	m, body := status()
	mq, _ := m["connectors"].(map[string]any)["mqtt"].(map[string]any)
	if mq["broker"] != "mqtt://"+br.addr || mq["client_id"] != "box-status" || mq["connected"] != true || mq["pending_events"] != float64(0) {
		t.Errorf("connectors.mqtt = %v", mq)
	}
	if strings.Contains(body, password) || strings.Contains(body, "restaurant:") {
		t.Errorf("/status shows the broker's credentials: %s", body)
	}
	checkSchema(t, m)

	br.stop()
	eventually(t, "not connected", func() bool { return !b.conn.Connected() })
	eventually(t, "a connect error", func() bool { return b.conn.Stats().ConnectErrors > 0 })
	m, body = status()
	mq = m["connectors"].(map[string]any)["mqtt"].(map[string]any)
	if mq["connected"] != false || mq["last_error"] == "" || mq["last_error"] == nil || mq["since"] == nil {
		t.Errorf("connectors.mqtt with the broker down = %v", mq)
	}
	if strings.Contains(body, password) {
		t.Errorf("/status shows the broker's password: %s", body)
	}
	checkSchema(t, m)
}

// checkSchema: every field of a /status answer is a property of the
// Status schema (and of the Connector schema under connectors), and the
// Connector schema's properties are server.ConnectorInfo's JSON fields.
func checkSchema(t *testing.T, status map[string]any) {
	t.Helper()
	src, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	st, conn := doc.Components.Schemas["Status"], doc.Components.Schemas["Connector"]
	for k := range status {
		if _, ok := st.Properties[k]; !ok {
			t.Errorf("/status answers %q, which the Status schema lacks", k)
		}
	}
	if cs, _ := st.Properties["connectors"].(map[string]any); cs == nil || cs["additionalProperties"].(map[string]any)["$ref"] != "#/components/schemas/Connector" {
		t.Errorf("Status.connectors is not a map of Connector: %v", st.Properties["connectors"])
	}
	var fields []string
	ty := reflect.TypeFor[server.ConnectorInfo]()
	for i := range ty.NumField() {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	var props []string
	for k := range conn.Properties {
		props = append(props, k)
	}
	slices.Sort(fields)
	slices.Sort(props)
	if !slices.Equal(fields, props) {
		t.Errorf("Connector schema properties %v, server.ConnectorInfo fields %v", props, fields)
	}
}

// apiCall makes a request to a running `comandera serve`.
func apiCall(t testing.TB, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// runCheck runs `comandera check` against a running serve.
func runCheck(t testing.TB, p *serveProc) (int, string) {
	t.Helper()
	cmd := exec.Command(comanderaBin(t), "check", "-url", p.url, "-token", testToken)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

type connectorStatus struct {
	Connectors map[string]server.ConnectorInfo `json:"connectors"`
}

func serveConnector(t testing.TB, p *serveProc) server.ConnectorInfo {
	t.Helper()
	code, body := apiCall(t, "GET", p.url+"/status", nil)
	var s connectorStatus
	if code != 200 || json.Unmarshal(body, &s) != nil {
		t.Fatalf("GET /status: %d %s", code, body)
	}
	return s.Connectors["mqtt"]
}

// Kill -9 of `comandera serve` after jobs printed while the broker was
// away, so their events were never delivered: restarted with the broker
// back, the box publishes every event, signed — the printed ones the
// backend waits for included — possibly twice, never missing.
func TestKill9EventsDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the comandera binary")
	}
	br := startBroker(t, "", nil)
	addr := br.addr
	killEvents(t, br.url(), br.stop, func() { startBroker(t, addr, nil) })
}

// killEvents runs the kill -9 scenario of TestKill9EventsDelivered against
// a broker at brokerURL that stopBroker stops and startBroker starts again
// at the same address, without the messages it held.
func killEvents(t *testing.T, brokerURL string, stopBroker, startBroker func()) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Host
	dir := t.TempDir()
	cfg, out := serveConfig(t, dir, brokerURL, "box-durable", "")
	tp := TopicsFor("comandera/box-durable")
	be := newBackend(t, brokerURL, nil, tp.Status, tp.Events)

	p := startServe(t, dir, cfg)
	be.waitStatus(tp, true, 15*time.Second)
	if code, text := runCheck(t, p); code != 0 || !strings.Contains(text, "✅ mqtt: connected to mqtt://"+addr+" as box-durable") {
		t.Errorf("check with the broker up: exit %d\n%s", code, text)
	}

	// The broker goes away; jobs come in over HTTP and print.
	stopBroker()
	eventually(t, "the box to see the broker gone", func() bool { return !serveConnector(t, p).Connected })
	var keys, markers []string
	for i := range 5 {
		key, marker := fmt.Sprintf("dur-%d", i), fmt.Sprintf("D%d", i)
		keys, markers = append(keys, key), append(markers, marker)
		code, body := apiCall(t, "POST", p.url+"/print?wait=15s", jobJSON(marker, "idempotency_key", key))
		if code != 200 || !strings.Contains(string(body), `"state":"printed"`) {
			t.Fatalf("POST /print %s: %d %s", key, code, body)
		}
	}
	info := serveConnector(t, p)
	if info.PendingEvents < 15 || info.LastError == "" {
		t.Errorf("/status before the kill: %+v", info)
	}
	code, text := runCheck(t, p)
	if code != 1 || !strings.Contains(text, "❌ mqtt: not connected to mqtt://"+addr+" as box-durable: ") ||
		!strings.Contains(text, "events waiting to be published") {
		t.Errorf("check with the broker down: exit %d\n%s", code, text)
	}
	p.kill() // the events of D0…D4 are only on disk now

	// The broker is back (empty: it kept nothing), the backend subscribes,
	// the box restarts.
	startBroker()
	be2 := newBackend(t, brokerURL, nil, tp.Events)
	p = startServe(t, dir, cfg)
	for _, key := range keys {
		be2.waitFor(15*time.Second, "printed event of "+key, isEvent(tp, "printed", key))
	}
	states, dups := eventStates(t, be2.messages(tp.Events))
	for _, key := range keys {
		if got := strings.Join(states[key], ","); got != "queued,printing,printed" {
			t.Errorf("%s: events %s, want queued,printing,printed", key, got)
		}
	}
	t.Logf("%d events after the restart, %d of them duplicates", len(be2.messages(tp.Events)), dups)
	// Printed once each: a job printed before the kill is not printed again.
	checkOnce(t, countTickets(t, out, markers), markers)
	eventually(t, "no events waiting", func() bool { return serveConnector(t, p).PendingEvents == 0 })
	if code, text := runCheck(t, p); code != 0 || !strings.Contains(text, "✅ mqtt: connected to mqtt://"+addr+" as box-durable (no events waiting)") {
		t.Errorf("check after the restart: exit %d\n%s", code, text)
	}
	p.stop()
}
