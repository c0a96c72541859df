// Package deploy holds what puts Comandera into production on a Raspberry Pi
// or any systemd Linux machine, and the tests for it: the systemd unit
// (comandera.service), the udev rules (99-comandera.rules), the installer
// (install.sh), the example configuration of a fresh install (printers.hcl),
// and the .deb definition (nfpm.yaml and deb/ maintainer scripts) that
// `make release` builds. It has no Go API.
package deploy
