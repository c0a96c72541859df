package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/comandera/comandera/queue"
)

// sseHeartbeat is how often an idle event stream sends a comment, so
// proxies and clients see the connection is alive.
const sseHeartbeat = 15 * time.Second

// handleEvents streams job events as Server-Sent Events:
//
//	id: <event_id>
//	event: job
//	data: {"event_id":…,"time":…,"previous_state":…,"state":…,"job":{…}}
//
// filtered by ?printer= and ?job=. A client that reconnects with the
// Last-Event-ID header (as EventSource does) first gets the events it
// missed, from the latest queue.RecentEvents kept in memory; when some may
// be missing (it was away too long, or the server restarted) an
// "event: gap" message says so first, and the client reads the jobs it
// cares about with GET /jobs. A client that connects for the first time
// gets only new events. When the client falls behind and events are
// dropped, an "event: dropped" message says how many.
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "printer", "job")
	if err != nil {
		writeError(w, err)
		return
	}
	printer, jobID := q.Get("printer"), q.Get("job")
	if printer != "" {
		if _, err := s.printer(printer); err != nil {
			writeError(w, err)
			return
		}
	}
	if s.isClosing() {
		writeError(w, ErrClosing)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	lastID := r.Header.Get("Last-Event-ID")
	if len(lastID) > 64 {
		lastID = lastID[:64]
	}
	sub, complete := s.EventsAfter(1024, lastID)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 8<<10)
	fmt.Fprintf(bw, "retry: 2000\n: connected; job events follow\n\n")
	if lastID != "" && !complete {
		gap, _ := json.Marshal(map[string]string{"last_event_id": lastID,
			"message": "events after this one may be missing (the server keeps the latest " + fmt.Sprint(queue.RecentEvents) + " at most, none from before a restart); read the jobs again with GET /jobs"})
		fmt.Fprintf(bw, "event: gap\ndata: %s\n\n", gap)
	}
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !flush() {
		return
	}
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	var dropped uint64
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return // the queue shut down
			}
			// Write what is waiting, then flush once.
			for {
				if (printer == "" || ev.Job != nil && (ev.Job.Printer == printer || ev.Job.FailedOverFrom == printer)) &&
					(jobID == "" || ev.Job != nil && ev.Job.ID == jobID) {
					data, err := json.Marshal(ev)
					if err != nil {
						return
					}
					fmt.Fprintf(bw, "id: %s\nevent: job\ndata: %s\n\n", ev.ID, data)
				}
				if len(sub.C) == 0 {
					break
				}
				if ev, ok = <-sub.C; !ok {
					flush()
					return
				}
			}
			if d := sub.Dropped(); d > dropped {
				fmt.Fprintf(bw, "event: dropped\ndata: {\"dropped\":%d}\n\n", d-dropped)
				dropped = d
			}
			if !flush() {
				return
			}
		case <-tick.C:
			fmt.Fprintf(bw, ": keep-alive %s\n\n", time.Now().UTC().Format(time.RFC3339))
			if !flush() {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}
