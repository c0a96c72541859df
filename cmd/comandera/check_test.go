package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/server"
)

const checkToken = "check-test-token"

// checkServer runs the real server (in process) with two sim printers and
// returns its URL and the output directory.
func checkServer(t *testing.T) (string, string) {
	t.Helper()
	return checkServerWith(t, nil)
}

// checkServerWith is checkServer calling setup with the service before it
// serves.
func checkServerWith(t *testing.T, setup func(*server.Service)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := `
server {
  listen   = "127.0.0.1:0"
  token    = "` + checkToken + `"
  data_dir = "data"
}
printer "kitchen" {
  sim {
    output = "` + out + `/kitchen"
    render = false
  }
}
printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "` + out + `/bar"
    render = false
  }
}
`
	cfg, diags := config.Parse([]byte(src), filepath.Join(dir, "printers.hcl"))
	if diags.HasErrors() {
		t.Fatal(config.Format(diags))
	}
	svc, err := server.Open(context.Background(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(svc)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		hs.Close()
		svc.Close(context.Background())
	})
	return hs.URL, out
}

func runCheckCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"check"}, args...), strings.NewReader(""), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return code, out.String()
}

func TestCheck(t *testing.T) {
	u, out := checkServer(t)
	pu, _ := url.Parse(u)
	host, port, _ := net.SplitHostPort(pu.Host)

	t.Run("environment variables, full test", func(t *testing.T) {
		t.Setenv(envHost, host)
		t.Setenv(envPort, port)
		t.Setenv(envSecret, checkToken)
		code, text := runCheckCmd(t, "-full-test", "-timeout", "10s")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, text)
		}
		for _, want := range []string{
			"Environment", "✅ RPI4_HTTP_HOST = 127.0.0.1", "✅ RPI4_HTTP_PORT = " + port, "✅ PRINTER_SECRET is set (16 characters)",
			"Connectivity", "✅ reached " + u, "✅ token accepted", "✅ hostname: ", "✅ version: comandera ",
			"Printers", "✅ kitchen (sim, generic-80mm), 0 waiting: online", "✅ bar (sim, generic-58mm)",
			"Health", "✅ healthy: all 2 printers ready (2 of 2 printers active)",
			"Test pages", "✅ kitchen: test page printed (job ", "✅ bar: test page printed (job ",
			"All checks passed.",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("output lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "❌") || strings.Contains(text, checkToken) || strings.Contains(text, "Connectors") {
			t.Errorf("a ❌, the token or a connector in the output:\n%s", text)
		}
		// The test pages were really printed.
		for _, p := range []string{"kitchen", "bar"} {
			if m, _ := filepath.Glob(filepath.Join(out, p, "*.txt")); len(m) != 1 {
				t.Errorf("%s: %d tickets", p, len(m))
			}
		}
	})

	t.Run("a printer out of paper", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(out, "bar", "PAPER_OUT"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(out, "bar", "PAPER_OUT"))
		// The next test page finds it out of paper; the status follows.
		code, text := runCheckCmd(t, "-url", u, "-token", checkToken, "-full-test", "-timeout", "2s")
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, text)
		}
		for _, want := range []string{"✅ kitchen: test page printed", "❌ bar: test page still queued after 2s: the printer is paper out", "1 check failed."} {
			if !strings.Contains(text, want) {
				t.Errorf("output lacks %q:\n%s", want, text)
			}
		}
		code, text = runCheckCmd(t, "-url", u, "-token", checkToken)
		if code != 1 || !strings.Contains(text, "❌ bar (sim, generic-58mm), 1 waiting: paper out") || !strings.Contains(text, "❌ degraded: bar is paper out") {
			t.Errorf("exit %d:\n%s", code, text)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		code, text := runCheckCmd(t, "-url", u, "-token", "nope")
		if code != 1 || !strings.Contains(text, "❌ the token was refused (401)") {
			t.Errorf("exit %d:\n%s", code, text)
		}
	})

	t.Run("no token", func(t *testing.T) {
		t.Setenv(envSecret, "")
		code, text := runCheckCmd(t, "-url", u)
		if code != 1 || !strings.Contains(text, "❌ the server wants a token (401): set PRINTER_SECRET or pass -token") {
			t.Errorf("exit %d:\n%s", code, text)
		}
	})

	t.Run("nothing set", func(t *testing.T) {
		t.Setenv(envHost, "")
		t.Setenv(envPort, "")
		t.Setenv(envSecret, "")
		code, text := runCheckCmd(t)
		if code != 1 || !strings.Contains(text, "❌ RPI4_HTTP_HOST is not set") || !strings.Contains(text, "❌ skipped: no server address") {
			t.Errorf("exit %d:\n%s", code, text)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		start := time.Now()
		code, text := runCheckCmd(t, "-url", "http://"+addr, "-token", "x")
		if code != 1 || !strings.Contains(text, "❌ cannot reach http://"+addr) || !strings.Contains(text, "connection refused") {
			t.Errorf("exit %d:\n%s", code, text)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
	})
}

// The MQTT connector's line: ✅ when connected, ❌ with the reason when not.
// (connector/mqtt's TestKill9EventsDelivered runs it against a real
// `comandera serve` and broker.)
func TestCheckConnector(t *testing.T) {
	var info atomic.Pointer[server.ConnectorInfo]
	info.Store(&server.ConnectorInfo{Broker: "mqtts://broker.example:8883", ClientID: "restaurant-12", Connected: true})
	u, _ := checkServerWith(t, func(svc *server.Service) {
		svc.RegisterConnector("mqtt", func() server.ConnectorInfo { return *info.Load() })
	})
	code, text := runCheckCmd(t, "-url", u, "-token", checkToken)
	if code != 0 || !strings.Contains(text, "Connectors\n  ✅ mqtt: connected to mqtts://broker.example:8883 as restaurant-12 (no events waiting)") {
		t.Errorf("exit %d:\n%s", code, text)
	}
	info.Store(&server.ConnectorInfo{Broker: "mqtts://broker.example:8883", ClientID: "restaurant-12", Protocol: "3.1.1", Connected: true})
	code, text = runCheckCmd(t, "-url", u, "-token", checkToken)
	if code != 0 || !strings.Contains(text, "✅ mqtt: connected to mqtts://broker.example:8883 as restaurant-12 over MQTT 3.1.1 (no events waiting)") {
		t.Errorf("exit %d:\n%s", code, text)
	}
	info.Store(&server.ConnectorInfo{Broker: "mqtts://broker.example:8883", ClientID: "restaurant-12",
		LastError: "dial tcp 192.0.2.7:8883: connect: connection refused", PendingEvents: 3, DroppedEvents: 2})
	code, text = runCheckCmd(t, "-url", u, "-token", checkToken)
	want := "❌ mqtt: not connected to mqtts://broker.example:8883 as restaurant-12: dial tcp 192.0.2.7:8883: connect: connection refused " +
		"(3 events waiting to be published; 2 dropped undelivered since the start, beyond the event sink's bounds)"
	if code != 1 || !strings.Contains(text, want) || !strings.Contains(text, "1 check failed.") {
		t.Errorf("exit %d:\n%s\nwant %q", code, text, want)
	}
}
