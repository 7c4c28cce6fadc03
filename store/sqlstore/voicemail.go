package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/sentralpbx/sentral/store"
)

// Voicemail returns the voicemail message store. On a store bound to a
// transaction (inside InTx) its operations join that transaction.
func (s *Store) Voicemail() store.VoicemailStore { return voicemailStore{s} }

// voicemailStore implements store.VoicemailStore. Like cdrStore it skips
// Store.write: no admin write lock (a caller leaving a message must not
// wait for an import) and no change row. Every write is one statement, so
// concurrent writers on any number of handles need no lock of their own;
// Add settles a duplicate path with ON CONFLICT rather than a failing
// statement, so a refusal never aborts a PostgreSQL transaction it runs in.
type voicemailStore struct{ s *Store }

const voicemailCols = "id, tenant_id, mailbox, caller_number, caller_name, call_id, received_at, " +
	"duration_millis, folder, path, size_bytes, urgent"

func voicemailErr(field, value string, kind error, format string, args ...any) *store.FieldError {
	return fieldErr(store.EntityVoicemail, field, value, kind, format, args...)
}

// checkFolder refuses a folder that is neither new nor saved; empty is
// refused too unless allowEmpty.
func checkFolder(f store.VoicemailFolder, allowEmpty bool) error {
	switch f {
	case store.VoicemailNew, store.VoicemailSaved:
		return nil
	case "":
		if allowEmpty {
			return nil
		}
	}
	return voicemailErr("folder", string(f), store.ErrInvalid, "must be new or saved")
}

func checkMailbox(mailbox string) error {
	if mailbox == "" {
		return voicemailErr("mailbox", "", store.ErrInvalid, "a voicemail message needs its mailbox (extension number)")
	}
	return nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

const voicemailInsert = "INSERT INTO voicemail_messages (tenant_id, mailbox, caller_number, caller_name, call_id, received_at, " +
	"duration_millis, folder, path, size_bytes, urgent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) " +
	"ON CONFLICT (path) DO NOTHING RETURNING id"

// Add stores a new message.
func (v voicemailStore) Add(ctx context.Context, m store.VoicemailMessage) (int64, error) {
	if m.Folder == "" {
		m.Folder = store.VoicemailNew
	}
	switch {
	case m.TenantID <= 0:
		return 0, voicemailErr("tenant_id", idString(m.TenantID), store.ErrInvalid, "a voicemail message needs its tenant")
	case m.Mailbox == "":
		return 0, checkMailbox(m.Mailbox)
	case m.ReceivedAt.IsZero():
		return 0, voicemailErr("received_at", "", store.ErrInvalid, "a voicemail message needs the time it was received")
	case m.Path == "":
		return 0, voicemailErr("path", "", store.ErrInvalid, "a voicemail message needs the path of its file")
	case !fs.ValidPath(m.Path) || m.Path == ".":
		return 0, voicemailErr("path", m.Path, store.ErrInvalid,
			"must be relative to the voicemail directory, slash-separated, without empty, . or .. elements")
	case m.DurationMillis < 0:
		return 0, voicemailErr("duration_millis", strconv.FormatInt(m.DurationMillis, 10), store.ErrInvalid, "must not be negative")
	case m.SizeBytes < 0:
		return 0, voicemailErr("size_bytes", strconv.FormatInt(m.SizeBytes, 10), store.ErrInvalid, "must not be negative")
	}
	if err := checkFolder(m.Folder, false); err != nil {
		return 0, err
	}
	ins, err := v.s.prepared(ctx, voicemailInsert)
	if err != nil {
		return 0, fmt.Errorf("add voicemail message %s: %w", m.Path, err)
	}
	var id int64
	err = ins.QueryRowContext(ctx, m.TenantID, m.Mailbox, m.CallerNumber, m.CallerName, m.CallID, dbTime(m.ReceivedAt),
		m.DurationMillis, string(m.Folder), m.Path, m.SizeBytes, m.Urgent).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The path is taken. Name the holder when it is still there (it
		// may have been deleted since).
		var other int64
		if err := v.s.q().QueryRowContext(ctx, "SELECT id FROM voicemail_messages WHERE path = $1", m.Path).Scan(&other); err == nil {
			return 0, voicemailErr("path", m.Path, store.ErrExists, "is already the file of voicemail message %d", other)
		}
		return 0, voicemailErr("path", m.Path, store.ErrExists, "is already the file of another voicemail message")
	case err != nil:
		err = v.s.classify(err)
		if errors.Is(err, store.ErrExists) { // not expected: ON CONFLICT covers path
			return 0, voicemailErr("path", m.Path, store.ErrExists, "is already the file of another voicemail message: %v", err)
		}
		return 0, fmt.Errorf("add voicemail message %s: %w", m.Path, err)
	}
	return id, nil
}

// Get returns one message.
func (v voicemailStore) Get(ctx context.Context, id int64) (store.VoicemailMessage, error) {
	sel, err := v.s.prepared(ctx, "SELECT "+voicemailCols+" FROM voicemail_messages WHERE id = $1")
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("read voicemail message %d: %w", id, err)
	}
	rows, err := sel.QueryContext(ctx, id)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("read voicemail message %d: %w", id, err)
	}
	ms, err := scanVoicemail(rows)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("read voicemail message %d: %w", id, err)
	}
	if len(ms) == 0 {
		return store.VoicemailMessage{}, voicemailErr("id", idString(id), store.ErrNotFound, "no voicemail message has this id")
	}
	return ms[0], nil
}

// List returns a mailbox's messages in folder ("" for all), oldest first.
func (v voicemailStore) List(ctx context.Context, tenantID int64, mailbox string, folder store.VoicemailFolder) ([]store.VoicemailMessage, error) {
	if err := checkMailbox(mailbox); err != nil {
		return nil, err
	}
	if err := checkFolder(folder, true); err != nil {
		return nil, err
	}
	q := "SELECT " + voicemailCols + " FROM voicemail_messages WHERE tenant_id = $1 AND mailbox = $2"
	args := []any{tenantID, mailbox}
	if folder != "" {
		q += " AND folder = $3"
		args = append(args, string(folder))
	}
	q += " ORDER BY received_at, id"
	rows, err := v.s.q().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list voicemail of mailbox %s: %w", mailbox, err)
	}
	ms, err := scanVoicemail(rows)
	if err != nil {
		return nil, fmt.Errorf("list voicemail of mailbox %s: %w", mailbox, err)
	}
	return ms, nil
}

// Move puts a message in folder.
func (v voicemailStore) Move(ctx context.Context, id int64, folder store.VoicemailFolder) error {
	if err := checkFolder(folder, false); err != nil {
		return err
	}
	upd, err := v.s.prepared(ctx, "UPDATE voicemail_messages SET folder = $2 WHERE id = $1")
	if err != nil {
		return fmt.Errorf("move voicemail message %d: %w", id, err)
	}
	res, err := upd.ExecContext(ctx, id, string(folder))
	if err != nil {
		return fmt.Errorf("move voicemail message %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("move voicemail message %d: %w", id, err)
	}
	if n == 0 {
		return voicemailErr("id", idString(id), store.ErrNotFound, "no voicemail message has this id")
	}
	return nil
}

// Delete removes a message and returns it. One statement: of concurrent
// deletes exactly one gets the row.
func (v voicemailStore) Delete(ctx context.Context, id int64) (store.VoicemailMessage, error) {
	del, err := v.s.prepared(ctx, "DELETE FROM voicemail_messages WHERE id = $1 RETURNING "+voicemailCols)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("delete voicemail message %d: %w", id, err)
	}
	rows, err := del.QueryContext(ctx, id)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("delete voicemail message %d: %w", id, err)
	}
	ms, err := scanVoicemail(rows)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("delete voicemail message %d: %w", id, err)
	}
	if len(ms) == 0 {
		return store.VoicemailMessage{}, voicemailErr("id", idString(id), store.ErrNotFound, "no voicemail message has this id")
	}
	return ms[0], nil
}

// Counts returns a mailbox's new and saved message counts.
func (v voicemailStore) Counts(ctx context.Context, tenantID int64, mailbox string) (int, int, error) {
	if err := checkMailbox(mailbox); err != nil {
		return 0, 0, err
	}
	sel, err := v.s.prepared(ctx,
		"SELECT mailbox, folder, COUNT(*) FROM voicemail_messages WHERE tenant_id = $1 AND mailbox = $2 GROUP BY mailbox, folder")
	if err != nil {
		return 0, 0, fmt.Errorf("count voicemail of mailbox %s: %w", mailbox, err)
	}
	rows, err := sel.QueryContext(ctx, tenantID, mailbox)
	if err != nil {
		return 0, 0, fmt.Errorf("count voicemail of mailbox %s: %w", mailbox, err)
	}
	counts, err := scanVoicemailCounts(rows)
	if err != nil {
		return 0, 0, fmt.Errorf("count voicemail of mailbox %s: %w", mailbox, err)
	}
	c := counts[mailbox]
	return c.New, c.Saved, nil
}

// CountsAll returns the counts of every mailbox of a tenant with messages.
func (v voicemailStore) CountsAll(ctx context.Context, tenantID int64) (map[string]store.VoicemailCounts, error) {
	rows, err := v.s.q().QueryContext(ctx,
		"SELECT mailbox, folder, COUNT(*) FROM voicemail_messages WHERE tenant_id = $1 GROUP BY mailbox, folder", tenantID)
	if err != nil {
		return nil, fmt.Errorf("count voicemail of tenant %d: %w", tenantID, err)
	}
	counts, err := scanVoicemailCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("count voicemail of tenant %d: %w", tenantID, err)
	}
	return counts, nil
}

// scanVoicemailCounts reads and closes rows of (mailbox, folder, count).
// Rows of a folder the store does not know (written by a newer version)
// are not counted.
func scanVoicemailCounts(rows *sql.Rows) (map[string]store.VoicemailCounts, error) {
	defer rows.Close()
	out := map[string]store.VoicemailCounts{}
	for rows.Next() {
		var mailbox, folder string
		var n int
		if err := rows.Scan(&mailbox, &folder, &n); err != nil {
			return nil, err
		}
		c := out[mailbox]
		switch store.VoicemailFolder(folder) {
		case store.VoicemailNew:
			c.New += n
		case store.VoicemailSaved:
			c.Saved += n
		default:
			continue
		}
		out[mailbox] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanVoicemail reads and closes rows of voicemailCols.
func scanVoicemail(rows *sql.Rows) ([]store.VoicemailMessage, error) {
	defer rows.Close()
	var out []store.VoicemailMessage
	for rows.Next() {
		var m store.VoicemailMessage
		var folder string
		if err := rows.Scan(&m.ID, &m.TenantID, &m.Mailbox, &m.CallerNumber, &m.CallerName, &m.CallID, &m.ReceivedAt,
			&m.DurationMillis, &folder, &m.Path, &m.SizeBytes, &m.Urgent); err != nil {
			return nil, err
		}
		m.Folder = store.VoicemailFolder(folder)
		m.ReceivedAt = m.ReceivedAt.UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
