// Package billing rates call detail records against a tenant's tariff and
// aggregates rated records into monthly reports and finance exports. It is
// pure logic: no database, no clock, no package state. The store keeps a
// tariff as the canonical JSON that Tariff.JSON produces, and the CLI
// (sentral tariff ..., sentral billing ...) moves records between the store
// and this package. docs/billing.md is the admin's description of the
// tariff format, the rating rules and the report columns.
//
// Money is never a float here: amounts are int64 in units of 1/100 øre
// (0.0001 NOK), so a per-second price like 0.0049 NOK is exact, and a
// price is rounded to whole øre once, at the end of rating a call.
package billing
