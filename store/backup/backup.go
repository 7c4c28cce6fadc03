// Package backup writes and restores Sentral backup archives: a tar.gz
// holding a consistent snapshot of the SQLite store (sentral.db), the
// voicemail files (voicemail/...) and a MANIFEST.json that lists every file
// with its size and SHA-256.
//
// The snapshot is taken with SQLite's VACUUM INTO, so a backup may run while
// the server runs. A restore stages the whole archive beside the database,
// checks it against the manifest, and only then moves the files into place.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"
)

// FormatVersion is the archive format this package writes and reads.
const FormatVersion = 1

// Archive entry names.
const (
	ManifestName = "MANIFEST.json"
	DBName       = "sentral.db"
	VoicemailDir = "voicemail"
)

// Store kinds recorded in the manifest.
const (
	KindSQLite        = "sqlite"
	KindVoicemailOnly = "voicemail-only"
)

// Manifest describes an archive.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Store         string    `json:"store"` // KindSQLite or KindVoicemailOnly
	Created       time.Time `json:"created"`
	SchemaVersion int64     `json:"schema_version,omitempty"`
	DB            *File     `json:"db,omitempty"`
	FileCount     int       `json:"file_count"` // voicemail files
	VoicemailSize int64     `json:"voicemail_bytes"`
	Files         []File    `json:"files"`
}

// File is one archived file: its archive name, size and SHA-256 (hex).
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// UserError is an error the operator can fix (a refused archive, an
// existing database, a running server): the CLI exits with code 1.
type UserError struct{ Err error }

func (e UserError) Error() string { return e.Err.Error() }
func (e UserError) Unwrap() error { return e.Err }

func userErr(format string, args ...any) error { return UserError{fmt.Errorf(format, args...)} }

// IsUserError reports whether err is (or wraps) a UserError.
func IsUserError(err error) bool {
	var ue UserError
	return errors.As(err, &ue)
}

// Options say what to back up or restore.
type Options struct {
	DBPath        string // SQLite file; ignored with VoicemailOnly
	VoicemailDir  string
	VoicemailOnly bool
	Force         bool             // restore: move an existing database and voicemail directory aside
	Now           func() time.Time // defaults to time.Now
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Backup writes an archive to w.
func Backup(ctx context.Context, w io.Writer, opt Options) (Manifest, error) {
	m := Manifest{FormatVersion: FormatVersion, Store: KindSQLite, Created: opt.now().UTC().Truncate(time.Second), Files: []File{}}
	if opt.VoicemailOnly {
		m.Store = KindVoicemailOnly
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)

	// The store first, then the files: a message row whose file is missing
	// would play as an empty message, an orphan file is harmless.
	if !opt.VoicemailOnly {
		snap, version, err := snapshot(ctx, opt.DBPath)
		if err != nil {
			return Manifest{}, err
		}
		defer os.RemoveAll(filepath.Dir(snap))
		m.SchemaVersion = version
		f, err := addFile(tw, snap, DBName, m.Created)
		if err != nil {
			return Manifest{}, err
		}
		m.DB = &f
	}
	if opt.VoicemailDir != "" {
		err := filepath.WalkDir(opt.VoicemailDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == opt.VoicemailDir && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipAll // no voicemail yet
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil // directories are implied; symlinks and devices are not ours
			}
			rel, err := filepath.Rel(opt.VoicemailDir, p)
			if err != nil {
				return err
			}
			f, err := addFile(tw, p, VoicemailDir+"/"+filepath.ToSlash(rel), m.Created)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, f)
			m.VoicemailSize += f.Size
			return ctx.Err()
		})
		if err != nil {
			return Manifest{}, fmt.Errorf("back up voicemail directory %s: %w", opt.VoicemailDir, err)
		}
	}
	m.FileCount = len(m.Files)
	// The manifest comes last, so it describes exactly what was written.
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	hdr := &tar.Header{Name: ManifestName, Mode: 0o644, Size: int64(len(data)), ModTime: m.Created, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return Manifest{}, fmt.Errorf("write archive: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return Manifest{}, fmt.Errorf("write archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return Manifest{}, fmt.Errorf("write archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return Manifest{}, fmt.Errorf("write archive: %w", err)
	}
	return m, nil
}

// snapshot copies the database with VACUUM INTO into a new temporary
// directory and returns the copy's path and the schema version.
func snapshot(ctx context.Context, dbPath string) (string, int64, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return "", 0, userErr("--db %s: %w (point --db at the SQLite file the server uses)", dbPath, err)
	}
	db, err := sql.Open("sqlite", dsn(dbPath, "_pragma=busy_timeout(10000)"))
	if err != nil {
		return "", 0, fmt.Errorf("open %s: %w", dbPath, err)
	}
	defer db.Close()
	dir, err := os.MkdirTemp("", "sentral-backup-")
	if err != nil {
		return "", 0, err
	}
	out := filepath.Join(dir, DBName)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		os.RemoveAll(dir)
		return "", 0, fmt.Errorf("snapshot %s: %w", dbPath, err)
	}
	version, err := schemaVersion(ctx, out)
	if err != nil {
		os.RemoveAll(dir)
		return "", 0, err
	}
	return out, version, nil
}

func dsn(p, params string) string {
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + params
}

// schemaVersion reads the highest applied migration of a database file.
func schemaVersion(ctx context.Context, p string) (int64, error) {
	db, err := sql.Open("sqlite", dsn(p, "mode=ro"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", p, err)
	}
	return v.Int64, nil
}

// addFile writes one file into the archive, hashing what it writes.
func addFile(tw *tar.Writer, src, name string, mtime time.Time) (File, error) {
	f, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	hdr := &tar.Header{Name: name, Mode: 0o640, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return File{}, fmt.Errorf("write archive: %w", err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(tw, h), f, info.Size()); err != nil {
		return File{}, fmt.Errorf("archive %s: %w", src, err)
	}
	return File{Name: name, Size: info.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Restore reads an archive from r and puts the database (unless
// opt.VoicemailOnly or the archive holds voicemail only) and the voicemail
// files in place. It does not open the store: the caller does, so that
// migrations run.
func Restore(ctx context.Context, r io.Reader, opt Options) (Manifest, error) {
	restoreDB := !opt.VoicemailOnly

	// Stage beside the database (or the voicemail directory), so that the
	// final moves are renames on one file system.
	stageParent := filepath.Dir(opt.VoicemailDir)
	if restoreDB {
		stageParent = filepath.Dir(opt.DBPath)
	}
	if err := os.MkdirAll(stageParent, 0o750); err != nil {
		return Manifest{}, err
	}
	stage, err := os.MkdirTemp(stageParent, ".sentral-restore-")
	if err != nil {
		return Manifest{}, err
	}
	defer os.RemoveAll(stage)

	m, got, err := extract(ctx, r, stage)
	if err != nil {
		return Manifest{}, err
	}
	if err := verify(m, got); err != nil {
		return Manifest{}, err
	}
	if m.Store == KindVoicemailOnly {
		restoreDB = false
	}
	if restoreDB {
		if err := checkTarget(ctx, opt); err != nil {
			return Manifest{}, err
		}
	}
	if err := checkVoicemailTarget(opt); err != nil {
		return Manifest{}, err
	}

	stamp := opt.now().UTC().Format("20060102T150405Z")
	if restoreDB {
		if err := moveAside(opt.DBPath, stamp); err != nil {
			return Manifest{}, err
		}
		if err := os.Rename(filepath.Join(stage, DBName), opt.DBPath); err != nil {
			return Manifest{}, fmt.Errorf("put database in place: %w", err)
		}
	}
	if len(m.Files) > 0 || opt.Force {
		if err := moveAsideDir(opt.VoicemailDir, stamp); err != nil {
			return Manifest{}, err
		}
	}
	for _, f := range m.Files {
		rel := strings.TrimPrefix(f.Name, VoicemailDir+"/")
		dst := filepath.Join(opt.VoicemailDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return Manifest{}, err
		}
		if err := moveFile(filepath.Join(stage, filepath.FromSlash(f.Name)), dst); err != nil {
			return Manifest{}, fmt.Errorf("restore %s: %w", f.Name, err)
		}
	}
	return m, nil
}

// checkTarget refuses an existing database without Force, and a database
// a running server holds open.
func checkTarget(ctx context.Context, opt Options) error {
	if opt.DBPath == "" {
		return userErr("--db: name the SQLite file to restore into")
	}
	if _, err := os.Stat(opt.DBPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if !opt.Force {
		return userErr("--db %s exists: restore refuses to overwrite a database; add --force to move it aside (to %s.before-restore-TIME) and restore", opt.DBPath, opt.DBPath)
	}
	if err := probeUnused(ctx, opt.DBPath); err != nil {
		return err
	}
	return nil
}

// probeUnused takes SQLite's exclusive lock for a moment: a running
// server keeps connections open, which hold a shared lock on the file.
func probeUnused(ctx context.Context, p string) error {
	db, err := sql.Open("sqlite", dsn(p, "_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "BEGIN EXCLUSIVE; SELECT count(*) FROM sqlite_master; ROLLBACK"); err != nil {
		if strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "locked") {
			return userErr("--db %s is in use (is `sentral serve` running?): stop the server, then restore", p)
		}
		return fmt.Errorf("check %s is unused: %w", p, err)
	}
	return nil
}

func checkVoicemailTarget(opt Options) error {
	if opt.VoicemailDir == "" || opt.Force {
		return nil
	}
	entries, err := os.ReadDir(opt.VoicemailDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if len(entries) > 0 {
		return userErr("voicemail directory %s is not empty: restore refuses to mix files; add --force to move it aside (to %s.before-restore-TIME) and restore", opt.VoicemailDir, opt.VoicemailDir)
	}
	return nil
}

// moveAside renames the database and its -wal and -shm files to
// NAME.before-restore-STAMP.
func moveAside(p, stamp string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		src := p + suffix
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		dst := p + ".before-restore-" + stamp + suffix
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("move %s aside: %w", src, err)
		}
	}
	return nil
}

func moveAsideDir(dir, stamp string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.Rename(dir, dir+".before-restore-"+stamp); err != nil {
		return fmt.Errorf("move %s aside: %w", dir, err)
	}
	return nil
}

// moveFile renames, or copies when src and dst are on different file systems.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// extract writes every entry of the archive under stage, validating names
// and types, and returns the manifest and what was actually read.
func extract(ctx context.Context, r io.Reader, stage string) (Manifest, map[string]File, error) {
	var m Manifest
	haveManifest := false
	got := map[string]File{}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return m, nil, userErr("archive is not a sentral backup (gzip: %v): pass a FILE.tar.gz written by `sentral backup`", err)
	}
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return m, nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, nil, userErr("archive is damaged (%v): take a new backup or use another copy", err)
		}
		name := hdr.Name
		if !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) {
			return m, nil, userErr("archive entry %q is not a plain relative path: refusing the archive", name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != VoicemailDir && !strings.HasPrefix(name, VoicemailDir+"/") {
				return m, nil, userErr("archive entry %q is not part of a sentral backup: refusing the archive", name)
			}
			continue
		case tar.TypeReg:
		default:
			return m, nil, userErr("archive entry %q is not a regular file (type %q): refusing the archive", name, hdr.Typeflag)
		}
		if _, dup := got[name]; dup || (name == ManifestName && haveManifest) {
			return m, nil, userErr("archive entry %q appears twice: refusing the archive", name)
		}
		switch {
		case name == ManifestName:
			data, err := io.ReadAll(io.LimitReader(tr, 1<<24))
			if err != nil {
				return m, nil, userErr("archive is damaged (%v)", err)
			}
			if err := json.Unmarshal(data, &m); err != nil {
				return m, nil, userErr("archive manifest is unreadable (%v)", err)
			}
			haveManifest = true
			continue
		case name == DBName, strings.HasPrefix(name, VoicemailDir+"/"):
		default:
			return m, nil, userErr("archive entry %q is not part of a sentral backup: refusing the archive", name)
		}
		dst := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return m, nil, err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return m, nil, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), tr)
		cerr := f.Close()
		if err != nil {
			return m, nil, userErr("archive is damaged (%s: %v)", name, err)
		}
		if cerr != nil {
			return m, nil, cerr
		}
		got[name] = File{Name: name, Size: n, SHA256: sum(h)}
	}
	if !haveManifest {
		return m, nil, userErr("archive has no %s: it was not written by `sentral backup`", ManifestName)
	}
	return m, got, nil
}

func sum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// verify compares the manifest with what the archive held.
func verify(m Manifest, got map[string]File) error {
	if m.FormatVersion != FormatVersion {
		return userErr("archive format version %d: this sentral reads version %d; restore with the sentral release that wrote it", m.FormatVersion, FormatVersion)
	}
	want := map[string]File{}
	switch m.Store {
	case KindSQLite:
		if m.DB == nil || m.DB.Name != DBName {
			return userErr("archive manifest lists no %s", DBName)
		}
		want[DBName] = *m.DB
	case KindVoicemailOnly:
	default:
		return userErr("archive holds a %q store: this sentral restores %q and %q archives", m.Store, KindSQLite, KindVoicemailOnly)
	}
	if m.FileCount != len(m.Files) {
		return userErr("archive manifest is inconsistent (file_count %d, %d files listed)", m.FileCount, len(m.Files))
	}
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Name, VoicemailDir+"/") || !fs.ValidPath(f.Name) {
			return userErr("archive manifest lists %q outside voicemail/", f.Name)
		}
		want[f.Name] = f
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, g := want[n], got[n]
		if g.Name == "" {
			return userErr("archive lacks %s, which its manifest lists: the archive is incomplete; use another copy", n)
		}
		if g.Size != w.Size || g.SHA256 != w.SHA256 {
			return userErr("archive entry %s does not match its manifest checksum (the archive is damaged or was altered): use another copy", n)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			return userErr("archive entry %s is not in its manifest: refusing the archive", n)
		}
	}
	return nil
}
