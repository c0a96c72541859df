package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
)

// Route is one method and path pattern the API serves.
type Route struct {
	Method  string
	Pattern string
	handler func(*Service, http.ResponseWriter, *http.Request)
}

// routes is the API. docs/openapi.yaml describes exactly these (a test
// checks it both ways).
var routes = []Route{
	{"GET", "/health", (*Service).handleHealth},
	{"GET", "/status", (*Service).handleStatus},
	{"POST", "/print", (*Service).handlePrint},
	{"POST", "/test", (*Service).handleTest},
	{"POST", "/scan", (*Service).handleScan},
	{"GET", "/jobs", (*Service).handleJobs},
	{"GET", "/jobs/{id}", (*Service).handleJob},
	{"DELETE", "/jobs/{id}", (*Service).handleCancel},
	{"POST", "/jobs/{id}/reprint", (*Service).handleReprint},
	{"POST", "/render", (*Service).handleRender},
	{"GET", "/printers", (*Service).handlePrinters},
	{"GET", "/events", (*Service).handleEvents},
	{"GET", "/metrics", (*Service).handleMetrics},
}

// Routes lists the routes the HTTP handler serves.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = Route{Method: r.Method, Pattern: r.Pattern}
	}
	return out
}

// Handler returns the HTTP API: routes, JSON errors for unknown paths and
// methods, bearer-token authentication with its failure limiter, and an
// access log.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var patterns []string
	for _, rt := range routes {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, func(w http.ResponseWriter, r *http.Request) { rt.handler(s, w, r) })
		if _, ok := methods[rt.Pattern]; !ok {
			patterns = append(patterns, rt.Pattern)
		}
		methods[rt.Pattern] = append(methods[rt.Pattern], rt.Method)
	}
	for _, p := range patterns {
		allow := methods[p]
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		allowHeader := strings.Join(allow, ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allowHeader)
			writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				fmt.Sprintf("%s %s is not served; use %s", r.Method, r.URL.Path, allowHeader)))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newError(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no route %s; see docs/openapi.yaml", truncate(r.URL.Path, 200))))
	})
	return &api{s: s, mux: mux, guard: newGuard(s.cfg.Server.Token, s.cfg.Server.PublicPaths)}
}

// api is the outer handler: access log, then authentication, then the mux.
type api struct {
	s     *Service
	mux   *http.ServeMux
	guard *guard
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := recorderPool.Get().(*recorder)
	*rec = recorder{ResponseWriter: w}
	defer recorderPool.Put(rec)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeError(rec, errors.New("panic"))
			}
		}
		a.log(r, rec, start)
	}()
	res, wait := a.guard.check(r)
	if res != authOK {
		if res != authLocked {
			a.s.metrics.authFailures.Inc()
		}
		a.guard.refuse(rec, res, wait)
		return
	}
	a.mux.ServeHTTP(rec, r)
}

func (a *api) log(r *http.Request, rec *recorder, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	route := r.Pattern
	if route == "" {
		route = "other"
	}
	a.s.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusUnauthorized || status == http.StatusTooManyRequests:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !a.s.log.Enabled(ctx, level) {
		return
	}
	a.s.log.LogAttrs(ctx, level, "http",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr),
	)
}

// recorder notes the status and size of an answer for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (SSE flushes,
// write deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// --- serving ---

// Serve serves the API on l (with TLS when server.tls is configured) until
// Shutdown. It returns http.ErrServerClosed after a clean shutdown.
func (s *Service) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.httpMu.Lock()
	if s.isClosing() {
		s.httpMu.Unlock()
		return http.ErrServerClosed
	}
	s.srv = srv
	s.httpMu.Unlock()
	if t := s.cfg.Server.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		return srv.ServeTLS(l, "", "")
	}
	return srv.Serve(l)
}

// Shutdown stops the server: it refuses new jobs, ends waits and event
// streams, stops accepting connections and lets requests in flight finish,
// then closes the service (each printer finishes the job in hand and the
// queue is closed cleanly). When ctx ends first, what is left is cut off;
// the queue stays consistent either way.
func (s *Service) Shutdown(ctx context.Context) error {
	s.BeginShutdown()
	s.httpMu.Lock()
	srv := s.srv
	s.httpMu.Unlock()
	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
			srv.Close()
		}
	}
	if err := s.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// --- request helpers ---

// readBody reads a request body of at most server.max_body bytes. A body
// must be JSON (Content-Type application/json) unless it is empty and
// optional.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request, required bool) ([]byte, error) {
	limit := s.cfg.Server.MaxBody
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.ContentLength == 0 && !required {
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && !required {
		// Read to see whether there is a body at all.
	} else if err := checkJSONType(ct); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, newError(http.StatusBadRequest, CodeInvalidRequest, "cannot read the body: "+err.Error())
	}
	if len(body) > 0 && ct == "" {
		return nil, checkJSONType(ct)
	}
	if len(body) == 0 && required {
		return nil, newError(http.StatusBadRequest, CodeInvalidJSON, "empty body: want a JSON object")
	}
	return body, nil
}

func checkJSONType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return newError(http.StatusUnsupportedMediaType, CodeUnsupportedType,
		fmt.Sprintf("Content-Type %s: send the body as JSON with Content-Type: application/json", truncate(ct, 100)))
}

func tooLarge(limit int64) error {
	return newError(http.StatusRequestEntityTooLarge, CodeTooLarge,
		fmt.Sprintf("the body is larger than %s, the server's max_body", sizeString(limit)))
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// query checks that only known parameters are given.
func query(r *http.Request, known ...string) (url.Values, error) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return nil, newError(http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf("unknown query parameter %q: this route takes none", truncate(k, 50)))
			}
			return nil, newError(http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf("unknown query parameter %q; known: %s", truncate(k, 50), strings.Join(known, ", ")))
		}
	}
	return q, nil
}

// waitParam reads the query of a request that takes only ?wait=30s (or
// seconds): 0 when absent.
func waitParam(r *http.Request) (time.Duration, error) {
	q, err := query(r, "wait")
	if err != nil {
		return 0, err
	}
	v := q.Get("wait")
	if !q.Has("wait") {
		return 0, nil
	}
	if v == "" {
		return MaxWait, nil
	}
	d, err := parseDurationString(v)
	if err != nil {
		return 0, newError(http.StatusBadRequest, CodeInvalidRequest, "wait: "+err.Error())
	}
	if d < 0 || d > MaxWait {
		return 0, newError(http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf("wait %s: want 0 to %s", d, MaxWait))
	}
	return d, nil
}

// JobResponse is the answer to POST /print, /test and /jobs/{id}/reprint:
// the job without its payload; Existed marks an idempotent retry that
// returned an earlier job.
type JobResponse struct {
	*queue.Job
	Existed bool `json:"existed,omitempty"`
}

// answerJob answers with job: after waiting up to wait for its final state
// (200 when final), else 202 for a new job and 200 for an existing one.
func (s *Service) answerJob(w http.ResponseWriter, r *http.Request, job *queue.Job, existed bool, wait time.Duration) {
	if wait > 0 && !job.State.Final() {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		j, err := s.Wait(ctx, job.ID)
		cancel()
		if err != nil {
			writeError(w, err)
			return
		}
		job = j
	}
	status := http.StatusAccepted
	if existed || job.State.Final() {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/jobs/"+job.ID)
	writeJSON(w, status, JobResponse{Job: WithoutPayload(job), Existed: existed})
}

// --- handlers ---

func (s *Service) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := s.Health()
	status := http.StatusOK
	if s.isClosing() {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Service) handlePrint(w http.ResponseWriter, r *http.Request) {
	wait, err := waitParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := s.readBody(w, r, true)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := DecodePrintRequest(body, r.Header.Get("Idempotency-Key"))
	if err != nil {
		writeError(w, err)
		return
	}
	job, existed, err := s.Print(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	s.answerJob(w, r, job, existed, wait)
}

// printerBody is the optional body of POST /test and /jobs/{id}/reprint.
type printerBody struct {
	Printer *string `json:"printer"`
}

func (s *Service) printerFromBody(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := s.readBody(w, r, false)
	if err != nil || len(body) == 0 {
		return "", err
	}
	var b printerBody
	if err := decodeStrict(body, &b, []string{"printer"}); err != nil {
		return "", err
	}
	if b.Printer == nil {
		return "", nil
	}
	if *b.Printer == "" {
		return "", badRequest("printer is empty")
	}
	return *b.Printer, nil
}

func (s *Service) handleTest(w http.ResponseWriter, r *http.Request) {
	wait, err := waitParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	printer, err := s.printerFromBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	job, err := s.Test(r.Context(), printer)
	if err != nil {
		writeError(w, err)
		return
	}
	s.answerJob(w, r, job, false, wait)
}

func (s *Service) handleScan(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Scan(r.Context()))
}

// JobList is the answer to GET /jobs. Next, when set, is the before= value
// of the next page.
type JobList struct {
	Jobs []*queue.Job `json:"jobs"`
	Next string       `json:"next,omitempty"`
}

func (s *Service) handleJobs(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "printer", "state", "limit", "before")
	if err != nil {
		writeError(w, err)
		return
	}
	f := queue.Filter{Printer: q.Get("printer"), State: core.JobState(q.Get("state")), Before: q.Get("before"), Limit: 100}
	if f.State != "" && !f.State.Valid() {
		writeError(w, badRequest("state %q: want one of queued, printing, printed, failed, expired, canceled", truncate(string(f.State), 40)))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, badRequest("limit %q: want a whole number from 1 to 1000", truncate(v, 40)))
			return
		}
		f.Limit = n
	}
	jobs, err := s.Jobs(f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := JobList{Jobs: jobs}
	if out.Jobs == nil {
		out.Jobs = []*queue.Job{}
	}
	if len(jobs) == f.Limit {
		out.Next = jobs[len(jobs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) handleJob(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, err)
		return
	}
	j, err := s.Job(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, err)
		return
	}
	j, err := s.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, WithoutPayload(j))
}

func (s *Service) handleReprint(w http.ResponseWriter, r *http.Request) {
	wait, err := waitParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	printer, err := s.printerFromBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	job, err := s.Reprint(r.Context(), r.PathValue("id"), printer)
	if err != nil {
		writeError(w, err)
		return
	}
	s.answerJob(w, r, job, false, wait)
}

func (s *Service) handleRender(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, err)
		return
	}
	body, err := s.readBody(w, r, true)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := DecodeRenderRequest(body)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := s.Render(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(len(out.PNG)))
	h.Set("X-Comandera-Profile", out.Profile)
	h.Set("X-Comandera-Warnings", strconv.Itoa(len(out.Warnings)))
	w.WriteHeader(http.StatusOK)
	w.Write(out.PNG)
}

func (s *Service) handlePrinters(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Printers []PrinterInfo `json:"printers"`
	}{s.Printers()})
}

func (s *Service) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsOnce.Do(func() {
		s.metricsHandler = promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
	})
	s.metricsHandler.ServeHTTP(w, r)
}
