// Package sim is a simulated receipt printer. It interprets the bytes a real
// printer would receive (ESC/POS, or Star Line Mode and Star raster graphics
// for profiles whose command set is starline or stargraphic), prints them on a virtual paper roll at the profile's resolution
// (576 dots for 80 mm, 512 for the TM-T88 class, 384 for 58 mm), and records
// each ticket as a 1-bit PNG, a UTF-8 transcript and a JSON sidecar, so a
// backend's tests can assert what a ticket looks like and says without
// hardware or OCR.
//
// # As a library
//
// Render turns bytes into one image of the whole roll (cuts drawn as dashed
// lines), its transcript and warnings: `comandera render` and the server's
// preview use it.
//
// # As a driver
//
// The package registers the driver "sim". A printer block such as
//
//	printer "ci" {
//	  profile = "generic-80mm"
//	  sim {
//	    output           = "./comandera-out/ci" # directory for the files; empty: keep tickets in memory
//	    render           = true  # false: transcript and sidecar only, no PNG (load tests)
//	    paper_out_after  = 0     # tickets before the paper runs out (0: never)
//	    disconnect_after = 0     # bytes accepted before the link drops once, as if unplugged (0: never)
//	    speed            = 0     # print speed in mm/s (0: instant); writes block accordingly
//	    xoff_at          = 0     # unprinted bytes at which XOFF is sent (XON when drained); needs speed
//	  }
//	}
//
// gives a Printer whose state (tickets printed, faults) lasts across
// connections. Each connection (Conn) is one job and starts from the
// printer's power-on state. Everything up to a cut is one ticket; a job that
// ends without a cut ends its last ticket. For each ticket the output
// directory gets NAME.txt (transcript), NAME.json (sidecar: warnings,
// drawer pulses, beeps, cut kind, paper length) and NAME.png, each written
// to a temporary name and renamed, the PNG last (with render = false, the
// JSON last): once it exists the ticket is complete. NAME is the job ID the
// queue passes through core.Labeler (JOB.png, then JOB-2.png for a second
// ticket of the job; a name already taken gets ".try2", ".try3"…), or
// without a label a timestamp and sequence number
// (20260102T150405.000-0001).
//
// A Conn answers status requests from the simulated state, as the
// profile's printer would: DLE EOT on ESC/POS, ESC ACK SOH with an automatic
// status (ASB) on Star Line Mode and Star Graphic, also while the paper is
// out (Read returns the reply bytes, and XON/XOFF). It reports that state
// through core.StatusReader, and honours deadlines (core.Deadliner).
//
// # Faults
//
// Files in the output directory change the simulated state while it runs,
// for fault tests and operators:
//
//	OFFLINE     Open and Write fail with an error wrapping core.ErrOffline; Status fails the same way.
//	PAPER_OUT   Status reports paper out; Write fails with core.ErrNotReady.
//	COVER_OPEN  Status reports the cover open; Write fails with core.ErrNotReady.
//
// Create the file to raise the fault and remove it to clear it (`touch
// DIR/PAPER_OUT`). paper_out_after N raises paper out once N tickets have
// been cut (Printer.Refill clears it); what a job sends after that is not
// printed and its Write fails with core.ErrNotReady. disconnect_after N lets
// the printer accept N bytes, then the Write that crosses N fails with an
// error wrapping core.ErrOffline, the connection is dead and the partial
// ticket is recorded with a warning; it fires once per Printer, so the
// queue's retry can complete.
//
// # Limits
//
// A ticket is at most 4 m long (paper.DefaultMaxMM); Render's roll at most
// 8 m (RollMaxMM). Beyond that nothing is drawn and a warning says so. A
// command longer than escpos.DefaultMaxCommand (4 MiB) is cut there and the
// rest discarded as it arrives. The sim does not model the print head's
// distance from the cutter except in GS V 65/66 (feed to the cutter: 12 mm
// plus n dots), motion units other than one dot, page mode, 90° rotation,
// international character sets (ESC R) or user-defined characters; it warns
// where a difference would show.
package sim
