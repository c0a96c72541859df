// Package comandera is the root of Comandera, a print server and driver
// framework for thermal receipt printers (ESC/POS and Star). It receives
// tickets from a backend over HTTP or MQTT, queues them durably and prints
// them on the USB, serial, network or simulated printers declared in
// printers.hcl, reporting each job's state back.
//
// This package only carries the documented example configuration, which is
// also the configuration `comandera serve` runs on when no printers.hcl is
// given. The work is done in the sub-packages: core (contracts and profiles),
// escpos, drivers/..., queue, server, plugins and config.
package comandera

import _ "embed"

// DefaultConfig is the repo-root printers.hcl: every option documented, two
// simulated printers ("kitchen" and "bar") declared. config.Default parses it.
//
//go:embed printers.hcl
var DefaultConfig []byte
