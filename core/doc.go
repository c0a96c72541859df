// Package core holds Comandera's contracts: the Driver and Conn interfaces every
// transport implements, the optional capabilities a driver or connection may add
// (discovered by type assertion, each with a documented fallback), the driver
// registry, printer Status, printer Profiles, code pages, and the Document model
// that the backend sends and encoders turn into printer bytes.
//
// The shape follows database/sql/driver and periph.io's conn: a tiny mandatory
// interface and optional ones, so a new transport implements two methods and
// grows capabilities as the hardware allows.
package core
