// Package httpapi serves the phone book over HTTP: a JSON search API with
// pagination for the admin listener (NewAPI), and XML phone books in the
// Yealink and Snom formats for desk phones (NewPhonebook).
//
// The package reads the phone book through the small Directory interface
// and keeps no state of its own. It does not authenticate anyone: the JSON
// API belongs on the trusted admin listener, and the phone book must be
// wrapped by a handler that authenticates the phone and names its tenant
// with WithTenant.
package httpapi
