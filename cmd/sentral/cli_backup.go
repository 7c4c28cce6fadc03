package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/store/backup"
)

// backupCommands are `sentral backup` and `sentral restore`.
func (a *app) backupCommands() []*cobra.Command {
	return []*cobra.Command{a.backupCmd(), a.restoreCmd()}
}

// sqlitePath strips the optional scheme prefixes sqlite.Open accepts.
func sqlitePath(dsn string) string {
	return strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
}

// backupErr maps a refusal of the backup package to exit code 1.
func backupErr(err error) error {
	if backup.IsUserError(err) {
		return usageError{err}
	}
	return err
}

func (a *app) backupCmd() *cobra.Command {
	var voicemailOnly bool
	cmd := &cobra.Command{
		Use:   "backup FILE.tar.gz",
		Short: "Write a consistent backup of the SQLite store and the voicemail files",
		Long: `Write FILE.tar.gz holding a snapshot of the SQLite store (taken with
VACUUM INTO, safe while the server runs), the voicemail files under
media.voicemail_dir and a MANIFEST.json with SHA-256 checksums.

A PostgreSQL store is backed up with pg_dump; --voicemail-only writes the
voicemail files alone.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("backup takes one argument, FILE.tar.gz (got %d)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			if isPostgres(a.cfg.DB) && !voicemailOnly {
				return usageError{fmt.Errorf("--db is PostgreSQL: back the store up with `pg_dump --format=custom` and the voicemail files with `sentral backup --voicemail-only %s`", file)}
			}
			if _, err := os.Stat(file); err == nil {
				return usageError{fmt.Errorf("FILE %s exists: choose a new name or remove it first", file)}
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
			if err != nil {
				return fmt.Errorf("FILE %s: %w", file, err)
			}
			defer os.Remove(tmp.Name()) // after the rename, a no-op
			m, err := backup.Backup(cmd.Context(), tmp, backup.Options{
				DBPath:        sqlitePath(a.cfg.DB),
				VoicemailDir:  voicemailDir(a.cfg),
				VoicemailOnly: voicemailOnly,
			})
			if err != nil {
				tmp.Close()
				return backupErr(err)
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return fmt.Errorf("write %s: %w", file, err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("write %s: %w", file, err)
			}
			if err := os.Rename(tmp.Name(), file); err != nil {
				return fmt.Errorf("write %s: %w", file, err)
			}
			if m.DB != nil {
				fmt.Fprintf(a.stdout, "backed up store (schema version %d, %d bytes) and %d voicemail files (%d bytes) to %s\n",
					m.SchemaVersion, m.DB.Size, m.FileCount, m.VoicemailSize, file)
			} else {
				fmt.Fprintf(a.stdout, "backed up %d voicemail files (%d bytes) to %s\n", m.FileCount, m.VoicemailSize, file)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&voicemailOnly, "voicemail-only", false, "back up the voicemail files only (for a PostgreSQL store, beside pg_dump)")
	return cmd
}

func (a *app) restoreCmd() *cobra.Command {
	var force, voicemailOnly bool
	cmd := &cobra.Command{
		Use:   "restore FILE.tar.gz",
		Short: "Restore the SQLite store and the voicemail files from a backup",
		Long: `Restore a FILE.tar.gz written by 'sentral backup': checks the manifest and
every checksum, then puts the database at --db and the files under
media.voicemail_dir, and opens the store once so that migrations run.

Stop the server first. An existing database (and a non-empty voicemail
directory) is only replaced with --force, which moves it aside to
NAME.before-restore-TIME.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("restore takes one argument, FILE.tar.gz (got %d)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			if isPostgres(a.cfg.DB) && !voicemailOnly {
				return usageError{fmt.Errorf("--db is PostgreSQL: restore the store with `pg_restore --clean --dbname sentral` and the voicemail files with `sentral restore --voicemail-only %s`", file)}
			}
			f, err := os.Open(file)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageError{fmt.Errorf("FILE %s: %w", file, err)}
				}
				return err
			}
			defer f.Close()
			m, err := backup.Restore(cmd.Context(), f, backup.Options{
				DBPath:        sqlitePath(a.cfg.DB),
				VoicemailDir:  voicemailDir(a.cfg),
				VoicemailOnly: voicemailOnly,
				Force:         force,
			})
			if err != nil {
				return backupErr(err)
			}
			restoredDB := m.Store == backup.KindSQLite && !voicemailOnly
			if restoredDB {
				// Open once, so that an older backup is migrated now rather
				// than at the next start of the server.
				if _, err := a.store(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "restored store (schema version %d, backup of %s) to %s and %d voicemail files to %s\n",
					m.SchemaVersion, m.Created.Format("2006-01-02 15:04:05Z"), a.cfg.DB, m.FileCount, voicemailDir(a.cfg))
			} else {
				fmt.Fprintf(a.stdout, "restored %d voicemail files to %s\n", m.FileCount, voicemailDir(a.cfg))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "move an existing database and voicemail directory aside (NAME.before-restore-TIME) and restore")
	cmd.Flags().BoolVar(&voicemailOnly, "voicemail-only", false, "restore the voicemail files only")
	return cmd
}
