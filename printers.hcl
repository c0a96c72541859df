# printers.hcl: Comandera's configuration.
#
# This file documents every option and is valid as it stands: it declares two
# simulated printers, "kitchen" and "bar", that render each ticket to a PNG and
# a text transcript under ./comandera-out/. It is also the configuration that
# `comandera serve` runs on when no printers.hcl is given. Check a file with
#
#     comandera validate printers.hcl
#
# which prints every problem as file:line:col lines.
#
# Values
#   - Durations are strings: "500ms", "30s", "2m", "24h".
#   - Sizes are strings with an optional unit: "4MiB", "512KiB", "1MB", or a
#     whole number of bytes (4194304).
#   - Relative paths are relative to the directory of this file, not to the
#     working directory (the embedded default uses the working directory).
#
# Functions
#   env("NAME")             the environment variable NAME; an error if unset
#   env("NAME", "default")  NAME, or "default" when it is not set
#   file("path")            the contents of a text file (at most 1 MiB)
#   trimspace(s)            s without surrounding white space, for example
#                           token = trimspace(file("/etc/comandera/token"))

# The HTTP API. Every attribute is optional; the values shown are the defaults
# unless the comment says otherwise.
server {
  # Address and port to listen on. A non-loopback address (0.0.0.0:3001, a
  # LAN address) is refused without a token unless insecure = true.
  listen = "127.0.0.1:3001"

  # Bearer token clients send as "Authorization: Bearer <token>". Empty means
  # no authentication, which is only allowed on a loopback address. Without a
  # token attribute at all, the PRINTER_SECRET environment variable is used.
  token = env("PRINTER_SECRET", "")

  # Allow a non-loopback listen address without a token (a trusted LAN only).
  insecure = false

  # Paths served without authentication.
  public_paths = ["/health", "/metrics"]

  # Where the durable job queue lives. Under systemd, use /var/lib/comandera
  # (the unit's StateDirectory).
  data_dir = "./comandera-data"

  # Largest request body accepted; bigger ones get 413.
  max_body = "4MiB"

  # URL prefixes a job's callback_url must start with (scheme, host, port and
  # path prefix); any other callback_url is refused with 400, so the server
  # cannot be used to reach into the local network. Empty: no callbacks.
  # Each prefix is taken as ending in "/".
  backends = []
  # backends = ["https://api.example.com/"]

  # HMAC-SHA256 key for the X-Comandera-Signature of callbacks and events.
  # Empty: the token is used.
  callback_secret = env("CALLBACK_SECRET", "")

  # How long an idempotency key returns the job it first created.
  idempotency_window = "24h"

  # Finished jobs are pruned when older than history_max_age or beyond the
  # newest history_max_jobs.
  history_max_age  = "168h"
  history_max_jobs = 10000

  # Serve HTTPS instead of HTTP (optional). Both files are PEM.
  # tls {
  #   cert = "/etc/comandera/tls.crt"
  #   key  = "/etc/comandera/tls.key"
  # }
}

# A printer. The label is its name in the API (letters, digits, - _ .). The
# first printer declared is the default for POST /print.
printer "kitchen" {
  # The model's profile (see `comandera profiles`); default "generic-80mm".
  profile = "generic-80mm"

  # When this printer has been down for failover_after, its queued jobs go to
  # the fallback printer, which must be another declared printer (no cycles).
  fallback       = "bar"
  failover_after = "2m"

  # The plugin this printer's jobs go through (a plugin block must declare
  # it). Default: the profile's quirks plugin, if any; "" turns that off.
  # quirks = "star"

  # Most jobs waiting for this printer; more get 429.
  queue_limit = 1000

  # Default expires_in of its jobs: a job not printed within it is expired,
  # never printed late.
  ttl = "30m"

  # A failed write is retried up to max_attempts times in all, waiting
  # retry_backoff first and doubling the wait up to retry_max.
  max_attempts  = 10
  retry_backoff = "1s"
  retry_max     = "1m"

  # Exactly one driver block says how to reach the printer.
  #
  # Simulated printer: renders each ticket (up to a cut) to a PNG and a text
  # transcript in the output directory (empty: kept in memory).
  sim {
    output = "./comandera-out/kitchen"
    # render           = true   # false: transcripts only, no PNG (load tests)
    # Faults to test against:
    # paper_out_after  = 0      # tickets printed before the paper runs out (0: never)
    # disconnect_after = 0      # bytes accepted before the link drops once (0: never)
    # speed            = 0      # print speed in mm/s (0: instant)
    # xoff_at          = 0      # unprinted bytes at which it sends XOFF (needs speed)
  }

  # A USB printer through the Linux usblp kernel driver. Name the device, or
  # match the printer by its USB IDs (hex, as lsusb shows them) so a re-plug
  # that renumbers lp0 still finds it:
  # usblp {
  #   device         = "/dev/usb/lp0"
  #   vendor_id      = "04b8"
  #   product_id     = "0e28"
  #   serial         = "X5ZG012345"  # only to tell identical printers apart
  #   write_timeout  = "30s"         # a write making no progress this long fails
  #   status_timeout = "500ms"       # wait for each status reply
  # }
  #
  # A USB printer through libusb (binaries built with -tags libusb):
  # libusb {
  #   vendor_id            = "04b8"
  #   product_id           = "0e28"
  #   serial               = "X5ZG012345" # only to tell identical printers apart
  #   interface            = 0            # default: the printer-class interface, else the vendor one
  #   detach_kernel_driver = true         # take the device from usblp if it holds it
  #   write_timeout        = "30s"
  #   status_timeout       = "500ms"
  # }
  #
  # An RS-232 or USB-serial printer; set what its self-test page shows:
  # serial {
  #   port           = "/dev/ttyUSB0"  # or a stable /dev/serial/by-id/… link
  #   baud           = 9600
  #   data_bits      = 8
  #   parity         = "none"          # none | odd | even | mark | space
  #   stop_bits      = 1
  #   flow_control   = "none"          # none | xonxoff | rtscts | dsrdtr
  #   ready_timeout  = "30s"           # held back (XOFF, ready line low) this long: offline
  #   status_timeout = "500ms"
  # }
  #
  # A network printer on the raw TCP port (JetDirect/AppSocket):
  # net {
  #   address        = "192.168.1.50:9100" # port 9100 when none is given
  #   dial_timeout   = "5s"
  #   write_timeout  = "30s"   # a write making no progress this long fails
  #   status_timeout = "500ms" # wait for a DLE EOT answer (ESC/POS profiles); none: "unknown"
  #   keepalive      = "15s"
  #   close_timeout  = "2s"    # wait for the printer to confirm it took every byte
  # }
}

printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "./comandera-out/bar"
  }
}

# A profile describes a printer model as data: add a model or change a
# built-in one. `base` starts from an existing profile (to change a built-in
# one, give it its own name as base). Every attribute but the label is
# optional when there is a base.
#
# profile "my-clone" {
#   base              = "generic-58mm"
#   description       = "No-name 58 mm clone from the cash-and-carry"
#   vendor            = "Generic"
#   models            = ["POS-5890"]          # IEEE 1284 / USB product names
#   usb_ids           = ["0416:5011"]         # vendor:product, hex
#   command_set       = "escpos"              # escpos | starline | stargraphic
#   dots_per_line     = 384                   # 576 on 80 mm, 512 TM-T88, 384 on 58 mm
#   dpi               = 203
#   font_a_columns    = 32
#   font_b_columns    = 42
#   code_pages        = { PC437 = 0, PC850 = 2, PC858 = 19, WPC1252 = 16 }
#   default_code_page = "PC437"
#   cuts              = ["partial"]           # "full", "partial"; [] = no cutter
#   cut_feed          = 96                    # dots fed before a cut
#   qr                = false                 # native QR; else sent as an image
#   barcodes          = ["ean13", "code128"]  # native symbologies
#   raster            = "gs_v_0"              # gs_v_0 | gs_8_l | esc_star | star_raster
#   max_band_height   = 128                   # tallest raster band in dots
#   drawer            = false
#   beep              = false
#   quirks            = "clone"               # plugin printers of this model use
# }

# A quirks plugin: a separate binary (hashicorp/go-plugin) for what a profile
# cannot express, such as Star Line Mode. The binary's SHA-256 is checked
# before it is started (`sha256sum comandera-star` prints it).
#
# plugin "star" {
#   path    = "/usr/lib/comandera/plugins/comandera-star"
#   sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
#   timeout = "5s"   # per call
# }

# Outbound MQTT: the box connects to a broker and receives jobs there, so no
# port has to be opened towards it.
#
# connector "mqtt" {
#   broker         = "mqtts://broker.example.com:8883"  # mqtt:// mqtts:// tls:// ws:// wss://
#   client_id      = "restaurant-12"                    # unique per box
#   topic_prefix   = "comandera/restaurant-12"          # default "comandera/<client_id>"
#   username       = env("MQTT_USERNAME", "")
#   password       = env("MQTT_PASSWORD", "")
#   keepalive      = "30s"
#   session_expiry = "24h"                              # "0s": the session ends on disconnect
#
#   # Every message the box publishes is signed (HMAC-SHA256 with the
#   # callback secret) in the MQTT 5 user property X-Comandera-Signature.
#   # A broker or bridge that speaks only MQTT 3.1.1 drops user properties:
#   # envelope = true puts the signature in the payload instead, as
#   # {"body": "<the JSON as a string>", "signature": "sha256=…"}.
#   envelope       = false
#
#   # The MQTT version: "auto" speaks MQTT 5 and, when the broker refuses it
#   # (a broker that speaks only 3.1.1), MQTT 3.1.1; "5" or "3.1.1" force one.
#   # Over 3.1.1 the envelope is always on (there are no user properties),
#   # answers go to <prefix>/replies (there is no response topic), and the
#   # session lasts as long as the broker keeps it (no session_expiry).
#   protocol       = "auto"
#
#   # Optional: a CA to verify the broker (default: the system's) and a client
#   # certificate and key for mutual TLS (AWS IoT Core needs them).
#   tls {
#     ca   = "/etc/comandera/mqtt-ca.pem"
#     cert = "/etc/comandera/mqtt-client.pem"
#     key  = "/etc/comandera/mqtt-client.key"
#   }
# }
