# /etc/comandera/printers.hcl: Comandera's configuration on this machine.
#
# As installed it declares one simulated printer, so the service starts and
# answers before a real printer is set up. To add your printers:
#
#   comandera scan                  # lists printers found, each with its block
#   sudoedit /etc/comandera/printers.hcl
#   sudo sh -c 'set -a; . /etc/comandera/comandera.env
#     comandera validate /etc/comandera/printers.hcl'
#   sudo systemctl restart comandera
#
# Every option is documented in the printers.hcl of the source tree.
# Secrets (PRINTER_SECRET, MQTT passwords) live in /etc/comandera/comandera.env,
# which the service reads as its environment.

server {
  # The API on every interface, so POS terminals on the LAN can reach it; a
  # non-loopback address requires the token. Use "127.0.0.1:3001" when only
  # local programs (or the MQTT connector) submit jobs.
  listen = "0.0.0.0:3001"

  # The bearer token: PRINTER_SECRET from /etc/comandera/comandera.env. No
  # default on purpose: without it the server refuses to start.
  token = env("PRINTER_SECRET")

  # The job queue, in the service's StateDirectory.
  data_dir = "/var/lib/comandera"
}

# A simulated printer: each ticket is rendered to a PNG and a text
# transcript under /var/lib/comandera/sim/kitchen. Replace it with your
# printer (or keep it as a test target under another name).
printer "kitchen" {
  profile = "generic-80mm"
  sim {
    output = "/var/lib/comandera/sim/kitchen"
  }
}

# Examples (uncomment one and adapt; `comandera scan` prints the right values):
#
# A USB printer through the usblp kernel driver, matched by its USB IDs so a
# re-plug that renumbers /dev/usb/lp0 still finds it:
# printer "kitchen" {
#   profile = "epson-tm-t20iii"
#   usblp {
#     vendor_id  = "04b8"
#     product_id = "0e28"
#   }
# }
#
# An RS-232 or USB-serial printer (set what its self-test page shows):
# printer "bar" {
#   profile = "generic-80mm"
#   serial {
#     port         = "/dev/ttyUSB0"
#     baud         = 9600
#     flow_control = "none"
#   }
# }
#
# A network printer on the raw TCP port:
# printer "terrace" {
#   profile = "generic-80mm"
#   net {
#     address = "192.168.1.50:9100"
#   }
# }
#
# Star printers in Star Line Mode and clone printers need their quirks
# plugin, checked by SHA-256 (sha256sum /usr/lib/comandera/plugins/*):
# plugin "star" {
#   path   = "/usr/lib/comandera/plugins/comandera-star"
#   sha256 = "<sha256sum of that file>"
# }
