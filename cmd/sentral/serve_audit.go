package main

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sentralpbx/sentral/audit"
	"github.com/sentralpbx/sentral/store"
)

// DefaultAuditRetentionDays is how long the audit log is kept by default:
// a year and a bit, so last year's same month can still be compared.
const DefaultAuditRetentionDays = 400

// maxAuditRetentionDays bounds audit.retention_days (ten years).
const maxAuditRetentionDays = 3660

// AuditConfig is the audit log of admin and operator actions
// (docs/operations.md, "Audit log").
type AuditConfig struct {
	// RetentionDays is how many days entries are kept; the server purges
	// older ones hourly. 0 keeps them forever.
	RetentionDays int `yaml:"retention_days"`
}

// Validate checks the retention.
func (c AuditConfig) Validate() error {
	if c.RetentionDays < 0 || c.RetentionDays > maxAuditRetentionDays {
		return fmt.Errorf("audit.retention_days %d: use 0 (keep forever) to %d, e.g. %d", c.RetentionDays, maxAuditRetentionDays, DefaultAuditRetentionDays)
	}
	return nil
}

// Retention is RetentionDays as a duration (0: forever).
func (c AuditConfig) Retention() time.Duration {
	return time.Duration(c.RetentionDays) * 24 * time.Hour
}

// newAuditRecorder builds the server's audit recorder over st: the admin
// API and the console record through it. Run it with the server's other
// parts (its Run writes in the background, flushes on shutdown and purges
// by audit.retention_days hourly).
func newAuditRecorder(cfg Config, st store.Store, log *zap.Logger) *audit.Recorder {
	return audit.New(st, audit.Options{Retention: cfg.Audit.Retention(), Log: log})
}
