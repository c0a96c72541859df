package server

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/queue"
)

// metrics are the Prometheus metrics of one Service, on its own registry.
type metrics struct {
	reg           *prometheus.Registry
	jobs          *prometheus.CounterVec   // jobs that entered each state
	printDuration *prometheus.HistogramVec // one Print call (one copy): encode, open, write, close
	jobLatency    *prometheus.HistogramVec // created → printed
	eventsDropped prometheus.Counter
	httpRequests  *prometheus.CounterVec
	authFailures  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comandera_jobs_total",
			Help: "Jobs that entered each state since the server started, by printer (the job's printer after the change).",
		}, []string{"printer", "state"}),
		printDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "comandera_print_duration_seconds",
			Help:    "Time to encode and write one copy of a job to the printer, successful writes only.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"printer"}),
		jobLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "comandera_job_latency_seconds",
			Help:    "Time from a job's submission to its printed state.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"printer"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "comandera_metrics_events_dropped_total",
			Help: "Job events the metrics collector missed because it fell behind (comandera_jobs_total undercounts by this much).",
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "comandera_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "comandera_auth_failures_total",
			Help: "Requests refused for a missing or wrong token.",
		}),
	}
	m.reg.MustRegister(m.jobs, m.printDuration, m.jobLatency, m.eventsDropped, m.httpRequests, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "comandera_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": core.Version(), "goversion": runtime.Version()},
	})
	info.Set(1)
	m.reg.MustRegister(info)
	return m
}

// observe counts one job event.
func (m *metrics) observe(ev *queue.Event) {
	j := ev.Job
	if j == nil {
		return
	}
	m.jobs.WithLabelValues(j.Printer, string(ev.State)).Inc()
	if ev.State == core.JobPrinted && !j.PrintedAt.IsZero() {
		m.jobLatency.WithLabelValues(j.Printer).Observe(j.PrintedAt.Sub(j.CreatedAt).Seconds())
	}
}

// stateCollector reports per-printer gauges read at scrape time.
type stateCollector struct {
	svc         *Service
	depth       *prometheus.Desc
	up          *prometheus.Desc
	state       *prometheus.Desc
	cbPending   *prometheus.Desc
	cbDelivered *prometheus.Desc
	cbFailed    *prometheus.Desc
	cbAbandoned *prometheus.Desc
}

func newStateCollector(s *Service) *stateCollector {
	return &stateCollector{
		svc:         s,
		depth:       prometheus.NewDesc("comandera_queue_depth", "Jobs waiting for the printer (queued or printing).", []string{"printer"}, nil),
		up:          prometheus.NewDesc("comandera_printer_up", "1 when the printer can print (online, or unknown on a transport that cannot tell), else 0.", []string{"printer"}, nil),
		state:       prometheus.NewDesc("comandera_printer_state", "1 for the printer's current state (online, offline, paper_out, cover_open, error, unknown).", []string{"printer", "state"}, nil),
		cbPending:   prometheus.NewDesc("comandera_callbacks_pending", "Callbacks waiting in the outbox.", nil, nil),
		cbDelivered: prometheus.NewDesc("comandera_callbacks_delivered_total", "Callbacks delivered since start.", nil, nil),
		cbFailed:    prometheus.NewDesc("comandera_callbacks_failed_total", "Callback attempts that failed and will be retried.", nil, nil),
		cbAbandoned: prometheus.NewDesc("comandera_callbacks_abandoned_total", "Callbacks given up after their maximum age.", nil, nil),
	}
}

var printerStates = []core.PrinterState{core.StateOnline, core.StateOffline, core.StatePaperOut, core.StateCoverOpen, core.StateError, core.StateUnknown}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.up, c.state, c.cbPending, c.cbDelivered, c.cbFailed, c.cbAbandoned} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.svc.Printers() {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(p.QueueDepth), p.Name)
		up := 0.0
		if p.Ready() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, p.Name)
		for _, st := range printerStates {
			v := 0.0
			if p.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, p.Name, string(st))
		}
	}
	cb := c.svc.q.CallbackStats()
	ch <- prometheus.MustNewConstMetric(c.cbPending, prometheus.GaugeValue, float64(cb.Pending))
	ch <- prometheus.MustNewConstMetric(c.cbDelivered, prometheus.CounterValue, float64(cb.Delivered))
	ch <- prometheus.MustNewConstMetric(c.cbFailed, prometheus.CounterValue, float64(cb.Failed))
	ch <- prometheus.MustNewConstMetric(c.cbAbandoned, prometheus.CounterValue, float64(cb.Abandoned))
}
