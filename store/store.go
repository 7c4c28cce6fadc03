// Package store holds Sentral's data model and the interface both
// persistence back ends (embedded SQLite, PostgreSQL) implement. The store
// enforces the invariants every writer must respect (number ranges,
// uniqueness, tenant ownership, optimistic versions), so the CLI, the admin
// API and bulk imports cannot disagree about them.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kinds of failure, matched with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("changed by someone else since it was read")
	ErrInvalid  = errors.New("invalid")
	ErrInUse    = errors.New("in use")
)

// FieldError says which field of which entity broke which rule. Kind is one
// of the Err* values above, so callers can both match and explain it.
type FieldError struct {
	Entity Entity
	Field  string // column-like name: "number", "domain", "ranges", "department_id"
	Value  string
	Reason string
	Kind   error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s %s: %s", e.Entity, e.Field, e.Reason)
	}
	return fmt.Sprintf("%s %s %q: %s", e.Entity, e.Field, e.Value, e.Reason)
}

// Unwrap lets errors.Is match the kind.
func (e *FieldError) Unwrap() error { return e.Kind }

// Entry is implemented by pointers to every stored entity.
type Entry interface{ M() *Meta }

// ListOptions narrows a listing. A zero TenantID lists across tenants.
// A zero Limit means no limit.
type ListOptions struct {
	TenantID int64
	Limit    int
	Offset   int
}

// Repo is the set of operations every entity supports.
//
// Find looks an entity up by its natural key within a tenant: a tenant by
// name (tenantID ignored), a site by name, a department by code, a person
// by e-mail, an extension or group by number, a device by MAC and a DECT
// handset by IPUI (both unique across tenants, tenantID ignored), a DECT
// gateway or trunk by name.
//
// Create sets ID, Version and the timestamps on the value it is given;
// Update requires the Version that was read and bumps it; Delete refuses an
// entity still referenced by others (ErrInUse) except that deleting a tenant
// removes everything it owns.
type Repo[T any] interface {
	Create(ctx context.Context, v *T) error
	Get(ctx context.Context, id int64) (T, error)
	Find(ctx context.Context, tenantID int64, key string) (T, error)
	List(ctx context.Context, opt ListOptions) ([]T, error)
	Update(ctx context.Context, v *T) error
	Delete(ctx context.Context, id int64) error
}

// Store is Sentral's persistence boundary.
type Store interface {
	Tenants() Repo[Tenant]
	Sites() Repo[Site]
	Departments() Repo[Department]
	People() Repo[Person]
	Extensions() Repo[Extension]
	Devices() Repo[Device]
	DECTGateways() Repo[DECTGateway]
	DECTHandsets() Repo[DECTHandset]
	Trunks() Repo[Trunk]
	Groups() Repo[Group]

	// Bindings holds the registered contacts the location service persists.
	Bindings() BindingStore
	// CDRs holds the call detail records the call path writes.
	CDRs() CDRStore
	// Voicemail holds the metadata of recorded voicemail messages.
	Voicemail() VoicemailStore
	// Tariffs holds the tenants' tariff revisions.
	Tariffs() TariffStore
	// Operators holds the switchboard console's accounts.
	Operators() OperatorStore
	// Audit holds the log of admin and operator actions.
	Audit() AuditStore

	// TenantByDomain finds the tenant owning a SIP domain (the request's realm).
	TenantByDomain(ctx context.Context, domain string) (Tenant, error)

	// InTx runs fn with a Store whose every operation belongs to one
	// transaction: all of it is applied, or none of it (fn's error is
	// returned). Calls nested inside fn join the same transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error

	// Changes returns up to limit committed changes with Seq > after, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// LastChange returns the newest Seq (0 when there is none).
	LastChange(ctx context.Context) (int64, error)
	// Watch delivers every change committed after `after`, by this or any
	// other process sharing the database, within a second of its commit.
	// The channel closes when ctx ends.
	Watch(ctx context.Context, after int64) <-chan Change

	// Backend names the implementation ("sqlite" or "postgres").
	Backend() string
	Close() error
}

// BindingStore persists registrations (see Binding). Unlike the admin
// repositories its writes take no store-wide write lock and append nothing
// to the change log: they come at the rate phones register and have no
// invariants across rows. Every method is safe for concurrent callers on
// any number of handles. Deleting an extension, renumbering it or deleting
// its tenant deletes its bindings.
type BindingStore interface {
	// Save upserts bindings by (TenantID, Number, BindingKey) in one
	// transaction. Bindings of an extension that does not exist (any
	// more) are skipped rather than failing the batch: the extension was
	// deleted while its bindings waited to be written, so they are void.
	Save(ctx context.Context, bs []Binding) error
	// Delete removes the bindings of one AOR with the given keys; unknown
	// keys are ignored.
	Delete(ctx context.Context, tenantID int64, number string, keys []string) error
	// DeleteAOR removes every binding of one AOR.
	DeleteAOR(ctx context.Context, tenantID int64, number string) error
	// List returns the bindings of a tenant (0: of all tenants), expired
	// ones included, ordered by tenant, number and key.
	List(ctx context.Context, tenantID int64) ([]Binding, error)
	// ListAOR returns the bindings of one address of record, expired ones
	// included, ordered by key: what another node of a cluster reads when
	// told the AOR changed.
	ListAOR(ctx context.Context, tenantID int64, number string) ([]Binding, error)
	// Purge deletes the bindings that expired before `before` and returns
	// how many it deleted.
	Purge(ctx context.Context, before time.Time) (int, error)
}

// CDRStore persists call detail records (see CDR). Like BindingStore its
// writes take no store-wide write lock and append nothing to the change
// log: they come at the rate calls are made. Records are never deleted
// with the tenant, department or trunk they name (they are the billing
// history); every method is safe for concurrent callers on any number of
// handles, and joins the transaction of a Store given by InTx.
//
// Refusals are *FieldError values with Entity EntityCDR: ErrInvalid for a
// bad value, ErrNotFound for an unknown id, ErrConflict for a write to a
// record that is already closed.
type CDRStore interface {
	// Open records the start of a call and returns the record's id. c's
	// ID, State, AnswerTime, EndTime, durations, Disposition, SIPCode and
	// Reason are ignored: the record starts open. TenantID, Direction and
	// StartTime are required. When DepartmentID is set and DepartmentCode
	// is empty, the department's current code is recorded.
	Open(ctx context.Context, c CDR) (int64, error)
	// Batch runs fn with a CDRStore whose writes share one transaction,
	// committed when fn returns nil. Unlike Store.InTx it takes no admin
	// write lock: call records must neither wait for an import nor for
	// another node's records. Inside InTx it joins that transaction.
	Batch(ctx context.Context, fn func(CDRStore) error) error
	// Route records the trunk an open call now goes out through (the
	// next one, after the first failed): the record keeps the trunk that
	// carried, or last tried, the call.
	Route(ctx context.Context, id int64, trunkID *int64, trunk string) error
	// Answer records when the call was answered. A second answer of the
	// same call keeps the first time (a forked call answered twice was
	// answered once).
	Answer(ctx context.Context, id int64, at time.Time) error
	// Close finalises a record: end time, disposition, the SIP status code
	// of the final response (0 if none) and the reason; DurationSeconds
	// and BillableSeconds are computed from the stored times.
	Close(ctx context.Context, id int64, end time.Time, d Disposition, sipCode int, reason string) error
	// CloseOrphans closes every record still open that node started before
	// `at` (records it starts after `at` belong to the running process)
	// and returns how many it closed. A node calls it when it starts, with
	// the time it started, to close the calls a crash left open. Nothing
	// is known about those calls after their last recorded event, so each
	// ends at that event and no time is billed that cannot be proven: an
	// answered call ends at its answer time (disposition answered, SIP
	// code 200, 0 billable seconds), an unanswered one at its start
	// (disposition failed, SIP code 0); the reason is
	// "interrupted by restart".
	CloseOrphans(ctx context.Context, node string, at time.Time) (int, error)
	// Get returns one record.
	Get(ctx context.Context, id int64) (CDR, error)
	// List returns the records matching f, ordered by start time (then id).
	List(ctx context.Context, f CDRFilter) ([]CDR, error)
	// Scan returns up to limit closed records with an id above afterID
	// that match f (TenantID, From, To; Ext, Limit and Offset are
	// ignored), ordered by id: the rater pages through millions of
	// records with it, resuming after the last id it saw. With unrated
	// set only records without a price are returned.
	Scan(ctx context.Context, f CDRFilter, afterID int64, limit int, unrated bool) ([]CDR, error)
	// SetPrices stores the ratings of closed records in one transaction
	// (or the caller's); ids that do not exist or are still open are
	// skipped (an open record is rated when it closes).
	SetPrices(ctx context.Context, ps []CDRPrice) error
	// Purge deletes the closed records of a tenant that started before
	// `before` and returns how many it deleted (retention, see
	// Tenant.CDRRetentionDays). Open records are never deleted.
	Purge(ctx context.Context, tenantID int64, before time.Time) (int, error)
}

// TariffStore keeps tariff revisions (see Tariff). Like CDRs, tariffs
// outlive their tenant: they explain the prices of the records it left.
// Refusals are *FieldError values with Entity EntityTariff.
type TariffStore interface {
	// Add stores a new revision, which becomes the tenant's current
	// tariff, and returns its id. TenantID (an existing tenant), Name and
	// Spec are required; ID and CreatedAt are set by the store.
	Add(ctx context.Context, t Tariff) (int64, error)
	// Current returns the tenant's newest revision (ErrNotFound: none).
	Current(ctx context.Context, tenantID int64) (Tariff, error)
	// Get returns one revision.
	Get(ctx context.Context, id int64) (Tariff, error)
	// List returns a tenant's revisions, newest first.
	List(ctx context.Context, tenantID int64) ([]Tariff, error)
}

// CDRFilter narrows CDRStore.List. Zero values do not filter.
type CDRFilter struct {
	TenantID int64
	From     time.Time // start time at or after From
	To       time.Time // start time before To
	Ext      string    // the number is the caller or the callee
	Limit    int       // at most this many records (0: all)
	Offset   int       // skip this many records first
}

// OrphanReason is the Reason CloseOrphans gives the records it closes.
const OrphanReason = "interrupted by restart"

// VoicemailStore persists voicemail message metadata (see
// VoicemailMessage); the WAV files themselves live on disk, named by Path.
// Like CDRStore its writes take no store-wide write lock and append
// nothing to the change log, every method is safe for concurrent callers
// on any number of handles, and it joins the transaction of a Store given
// by InTx. Messages are not deleted with their extension or tenant.
//
// Refusals are *FieldError values with Entity EntityVoicemail: ErrInvalid
// for a bad value (an unknown folder, an empty mailbox or path),
// ErrNotFound for an unknown id, ErrExists for a path another message
// already has.
type VoicemailStore interface {
	// Add stores a new message and returns its id. m.ID is ignored; an
	// empty Folder means VoicemailNew. TenantID, Mailbox, ReceivedAt and
	// Path are required; Path must be a relative, slash-separated path
	// without "." or ".." elements (io/fs.ValidPath, and not "."), so a
	// caller joining it to the voicemail directory never leaves that
	// directory. ReceivedAt is kept in UTC, truncated to the microsecond.
	Add(ctx context.Context, m VoicemailMessage) (int64, error)
	// Get returns one message.
	Get(ctx context.Context, id int64) (VoicemailMessage, error)
	// List returns a mailbox's messages in folder ("" for every folder),
	// oldest first (by ReceivedAt, then id).
	List(ctx context.Context, tenantID int64, mailbox string, folder VoicemailFolder) ([]VoicemailMessage, error)
	// Move puts a message in folder; new to saved marks it heard. Moving
	// a message to the folder it is in changes nothing.
	Move(ctx context.Context, id int64, folder VoicemailFolder) error
	// Delete removes a message and returns it as it was, so the caller can
	// remove its file. Of concurrent deletes of one message one returns
	// it and the others ErrNotFound.
	Delete(ctx context.Context, id int64) (VoicemailMessage, error)
	// Counts returns how many new and saved messages a mailbox has, for
	// message-waiting (RFC 3842 Voice-Message: new/old).
	Counts(ctx context.Context, tenantID int64, mailbox string) (newCount, savedCount int, err error)
	// CountsAll returns the counts of every mailbox of a tenant that has
	// at least one message (a mailbox missing from the map has none), for
	// sending message-waiting state at start-up.
	CountsAll(ctx context.Context, tenantID int64) (map[string]VoicemailCounts, error)
}

// OperatorStore keeps the console's operator accounts (see Operator).
// Like TariffStore it appends nothing to the change log; writes take no
// store-wide write lock, every method is safe for concurrent callers on
// any number of handles and joins the transaction of a Store given by
// InTx. Operators are deleted with their tenant.
//
// Refusals are *FieldError values with Entity EntityOperator: ErrInvalid
// for a bad value, ErrNotFound for an unknown id or username (or tenant),
// ErrExists for a username another operator has.
type OperatorStore interface {
	// Create stores a new account and sets o's ID and timestamps.
	// TenantID (an existing tenant), Username (ValidUsername), DisplayName,
	// PasswordHash, Role, Extension (an extension number's syntax) and
	// Locale (nb or en) are required; the lock-out fields are ignored.
	Create(ctx context.Context, o *Operator) error
	// Get returns one account by id.
	Get(ctx context.Context, id int64) (Operator, error)
	// Find returns one account by username (as stored: lower-case).
	Find(ctx context.Context, username string) (Operator, error)
	// List returns the accounts of a tenant (0: of all tenants), ordered
	// by username.
	List(ctx context.Context, tenantID int64) ([]Operator, error)
	// Update writes o's DisplayName, PasswordHash, Role, Extension and
	// Locale (checked as by Create) and sets UpdatedAt; the username, the
	// tenant and the lock-out fields are not changed.
	Update(ctx context.Context, o *Operator) error
	// Delete removes an account.
	Delete(ctx context.Context, id int64) error

	// LoginFailed records a failed login at `at` atomically (concurrent
	// failures all count) and returns the account as it now is. A failure
	// more than p.Window after the first counted one starts a new count;
	// the p.MaxFailures-th failure within the window locks the account
	// until at+p.LockFor and resets the count.
	LoginFailed(ctx context.Context, id int64, at time.Time, p LockoutPolicy) (Operator, error)
	// LoginSucceeded records a successful login at `at`: the failure
	// count is reset and LastLoginAt set. It does not lift a lock (a
	// locked account is not asked for its password).
	LoginSucceeded(ctx context.Context, id int64, at time.Time) error
	// Unlock lifts a lock and resets the failure count.
	Unlock(ctx context.Context, id int64) error
}
