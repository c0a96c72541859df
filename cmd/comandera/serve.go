package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/hcl/v2"

	"github.com/comandera/comandera/config"
	mqttconn "github.com/comandera/comandera/connector/mqtt"
	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/server"
)

func init() {
	register(command{name: "serve", summary: "run the print server (HTTP API, job queue, printers)", run: runServe})
}

// runServe is `comandera serve [-config FILE] [-listen ADDR] [-log-format text|json] [-log-level LEVEL]`.
func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` (default ./printers.hcl if present, else the embedded default)")
	listen := fs.String("listen", "", "listen on `ADDR` (host:port) instead of server.listen")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	grace := fs.Duration("shutdown-timeout", 25*time.Second, "on SIGTERM, how long the printers may take to finish the job in hand")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera serve [-config FILE] [flags]

Runs the print server: the HTTP API, the durable job queue in server.data_dir
and one worker per printer. Without -config it uses ./printers.hcl when
there is one, else the embedded default (two simulated printers, kitchen and
bar, writing PNGs and transcripts under ./comandera-out/). SIGTERM or SIGINT
stops accepting jobs, lets each printer finish the job in hand, closes the
queue and exits 0. Under systemd (Type=notify) it reports readiness and feeds
the watchdog.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "comandera serve: %v\n", err)
		return 2
	}

	cfg, diags, source := loadServeConfig(*cfgPath)
	config.WriteDiagnostics(stderr, diags)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "comandera serve: %s has errors; not starting\n", source)
		return 1
	}
	log.Info("configuration", "source", source, "printers", len(cfg.Printers), "data_dir", cfg.Server.DataDir)
	if *listen != "" {
		cfg.Server.Listen = *listen
		if err := cfg.Server.CheckAuth(); err != nil {
			fmt.Fprintf(stderr, "comandera serve: -listen %s: %v\n", *listen, err)
			return 1
		}
	}
	if cfg.Server.Token == "" {
		log.Warn("no token: every request is accepted without authentication (loopback or insecure = true)")
	}

	if t := cfg.Server.TLS; t != nil {
		if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
			fmt.Fprintf(stderr, "comandera serve: server { tls { cert = %q, key = %q } }: %v\n", t.Cert, t.Key, err)
			return 1
		}
	}
	svc, err := server.Open(ctx, cfg, server.Options{Logger: log})
	if err != nil {
		var pe *server.PluginError
		if errors.As(err, &pe) {
			config.WriteDiagnostics(stderr, hcl.Diagnostics{pe.Diagnostic()})
		} else {
			fmt.Fprintf(stderr, "comandera serve: %v\n", err)
		}
		return 1
	}
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "comandera serve: %v\n", err)
		svc.Close(context.Background())
		return 1
	}
	scheme := "http"
	if cfg.Server.TLS != nil {
		scheme = "https"
	}
	var names []string
	for _, p := range cfg.Printers {
		names = append(names, p.Name+" ("+p.Driver+", "+p.Profile.Name+")")
	}
	log.Info("listening", "addr", l.Addr().String(), "url", scheme+"://"+l.Addr().String(),
		"version", core.Version(), "printers", strings.Join(names, ", "))
	// One plain line on stdout for scripts and tests, whatever the log level.
	fmt.Fprintf(stdout, "comandera: listening on %s://%s\n", scheme, l.Addr())

	served := make(chan error, 1)
	go func() { served <- svc.Serve(l) }()

	// The MQTT connector, when configured: it connects out in the
	// background; the server prints local jobs while the broker is away.
	var mq *mqttconn.Connector
	if cfg.MQTT != nil {
		mq, err = mqttconn.Start(svc, cfg.MQTT, mqttconn.Options{Logger: log})
		if err != nil {
			fmt.Fprintf(stderr, "comandera serve: connector \"mqtt\": %v\n", err)
			svc.Shutdown(context.Background())
			return 1
		}
	}

	// systemd: ready, then the watchdog. Both are no-ops outside systemd.
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("cannot notify systemd", "err", err)
	}
	stopDog := make(chan struct{})
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		go watchdog(svc, log, interval/2, stopDog)
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Info("stopping: finishing the jobs in hand", "timeout", *grace)
	case err := <-served:
		log.Error("the HTTP server stopped", "err", err)
		code = 1
	}
	close(stopDog)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := svc.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if mq != nil {
		// After the service: the last jobs' events go out, then "offline".
		if err := mq.Close(sctx); err != nil {
			log.Warn("mqtt shutdown", "err", err)
		}
	}
	if code == 0 {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http", "err", err)
		}
	}
	log.Info("stopped; the queue is closed")
	return code
}

// loadServeConfig picks the configuration: the -config file, else
// ./printers.hcl, else the embedded default. It says which in source.
func loadServeConfig(path string) (*config.Config, hcl.Diagnostics, string) {
	if path != "" {
		c, d := config.Load(path)
		return c, d, path
	}
	if st, err := os.Stat("printers.hcl"); err == nil && st.Mode().IsRegular() {
		c, d := config.Load("printers.hcl")
		return c, d, "./printers.hcl"
	}
	c, d := config.Default()
	return c, d, "embedded default (no -config and no ./printers.hcl)"
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// watchdog pets the systemd watchdog every interval while the service
// answers; a hung service is then restarted by systemd.
func watchdog(svc *server.Service, log *slog.Logger, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if !svc.Alive() {
				log.Error("the job store does not answer; not feeding the systemd watchdog")
				continue
			}
			if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
				log.Warn("cannot feed the systemd watchdog", "err", err)
			}
		}
	}
}
