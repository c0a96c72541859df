//go:build integration

package mqtt

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// python3 finds a Python 3 with paho-mqtt and requests (Debian's
// python3-paho-mqtt and python3-requests): $COMANDERA_PYTHON, python3 on
// the PATH, or /usr/bin/python3.
func python3(t testing.TB) string {
	t.Helper()
	var tried []string
	cands := []string{os.Getenv("COMANDERA_PYTHON"), "python3", "/usr/bin/python3"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "-c", "import paho.mqtt.client, requests; print(paho.mqtt.__version__)").CombinedOutput()
		if err == nil {
			t.Logf("python: %s, paho-mqtt %s", p, strings.TrimSpace(string(out)))
			return p
		}
		tried = append(tried, p+": "+strings.TrimSpace(string(out)))
	}
	t.Fatalf("no python3 with paho-mqtt and requests (apt-get install python3-paho-mqtt python3-requests); tried:\n%s", strings.Join(tried, "\n"))
	return ""
}

// The Python snippets of docs/backend.md, as the files in docs/examples/,
// run against a live `comandera serve` (HTTP with requests, callbacks into
// the Django view) and a live Mosquitto with the box's connector (MQTT with
// paho-mqtt): the tickets print once and every signature verifies.
func TestPythonExamples(t *testing.T) {
	py := python3(t)
	m := startMosquitto(t, nil)
	dir := t.TempDir()
	cbAddr := freePort(t)
	_, cbPort, _ := net.SplitHostPort(cbAddr)
	cfg, out := serveConfig(t, dir, m.url(), "restaurant-12", "")
	// The callback URL must be under a configured backend.
	src, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte(`data_dir        = "`), []byte(`backends        = ["http://`+cbAddr+`/comandera/"]
  data_dir        = "`), 1)
	if err := os.WriteFile(cfg, src, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, dir, cfg)

	examples, err := filepath.Abs("../../docs/examples")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(m.addr)
	cmd := exec.Command(py, "testdata/examples_driver.py")
	cmd.Env = append(os.Environ(),
		"EXAMPLES_DIR="+examples,
		"COMANDERA_URL="+p.url,
		"PRINTER_SECRET="+testToken,
		"CALLBACK_SECRET="+testSecret,
		"CALLBACK_PORT="+cbPort,
		"MQTT_HOST="+host,
		"MQTT_PORT="+port,
		"MQTT_PREFIX=comandera/restaurant-12",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the Python examples did not finish:\n%s\n%s", stdout.String(), stderr.String())
	}
	var summary struct {
		OK            bool   `json:"ok"`
		Error         string `json:"error"`
		HTTPJob       string `json:"http_job"`
		MQTTJob       string `json:"mqtt_job"`
		EventsApplied int    `json:"events_applied"`
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); jerr != nil || err != nil || !summary.OK {
		t.Fatalf("examples: %v %+v\nstdout:\n%s\nstderr:\n%s\nserver:\n%s", err, summary, stdout.String(), stderr.String(), p.log.String())
	}
	t.Logf("examples: %+v", summary)
	markers := []string{"PY-HTTP-1", "PY-MQTT-1", "PY-MQTT-2"}
	checkOnce(t, waitTickets(t, out, markers, 10*time.Second), markers)
}
