package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/store"
	"github.com/sentralpbx/sentral/store/backend"
	"github.com/sentralpbx/sentral/store/backup"
)

// seedVoicemail writes one message file and its row; it returns the file's bytes.
func seedVoicemail(t *testing.T, c *cli) []byte {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, err := st.TenantByDomain(ctx, "sip.fjordvik.no")
	if err != nil {
		t.Fatal(err)
	}
	audio := make([]byte, 16000)
	rand.Read(audio)
	rel := "fjordvik/2001/new/msg-0001.wav"
	p := filepath.Join(filepath.Dir(c.db), "voicemail", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, audio, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Voicemail().Add(ctx, store.VoicemailMessage{TenantID: ten.ID, Mailbox: "2001", CallerNumber: "+4791234567",
		ReceivedAt: time.Now(), DurationMillis: 1000, Path: rel, SizeBytes: int64(len(audio))}); err != nil {
		t.Fatal(err)
	}
	return audio
}

func voicemailRows(t *testing.T, c *cli) []store.VoicemailMessage {
	t.Helper()
	ctx := context.Background()
	st, err := backend.Open(ctx, c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten, err := st.TenantByDomain(ctx, "sip.fjordvik.no")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Voicemail().List(ctx, ten.ID, "2001", "")
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// wipe removes the database (with its WAL files) and the voicemail directory.
func wipe(t *testing.T, c *cli) {
	t.Helper()
	for _, s := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(c.db + s); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(filepath.Dir(c.db), "voicemail")); err != nil {
		t.Fatal(err)
	}
}

func TestBackupRestore(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari Nordmann")
	c.ok("ext", "add", "2002", "--tenant", "fjordvik", "--name", "Ola Nordmann")
	audio := seedVoicemail(t, c)
	extsBefore := c.ok("ext", "list", "--tenant", "fjordvik", "-o", "json")
	rowsBefore := voicemailRows(t, c)

	archive := filepath.Join(t.TempDir(), "sentral.tar.gz")
	out := c.ok("backup", archive)
	if !strings.Contains(out, "1 voicemail files") {
		t.Errorf("backup said: %s", out)
	}
	m := readManifest(t, archive)
	if m.Store != backup.KindSQLite || m.SchemaVersion == 0 || m.DB == nil || len(m.DB.SHA256) != 64 || m.FileCount != 1 ||
		m.Files[0].Name != "voicemail/fjordvik/2001/new/msg-0001.wav" || m.Files[0].Size != int64(len(audio)) {
		t.Errorf("manifest: %+v", m)
	}
	if errs := c.fail(exitUser, "backup", archive); !strings.Contains(errs, "exists") {
		t.Errorf("backup onto an existing file: %s", errs)
	}

	// Restore onto the live database is refused without --force.
	if errs := c.fail(exitUser, "restore", archive); !strings.Contains(errs, "--force") {
		t.Errorf("restore onto an existing db: %s", errs)
	}

	// A running server (an open store) is detected.
	st, err := backend.Open(context.Background(), c.db, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := c.fail(exitUser, "restore", "--force", archive); !strings.Contains(errs, "stop the server") {
		t.Errorf("restore while the store is open: %s", errs)
	}
	st.Close()

	wipe(t, c)
	out = c.ok("restore", archive)
	if !strings.Contains(out, "restored store") {
		t.Errorf("restore said: %s", out)
	}
	if got := c.ok("ext", "list", "--tenant", "fjordvik", "-o", "json"); got != extsBefore {
		t.Errorf("extensions after restore:\n%s\nwant:\n%s", got, extsBefore)
	}
	rowsAfter := voicemailRows(t, c)
	if len(rowsAfter) != 1 || rowsAfter[0].Path != rowsBefore[0].Path || rowsAfter[0].CallerNumber != "+4791234567" {
		t.Errorf("voicemail rows after restore: %+v", rowsAfter)
	}
	got, err := os.ReadFile(filepath.Join(filepath.Dir(c.db), "voicemail", "fjordvik", "2001", "new", "msg-0001.wav"))
	if err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("voicemail file after restore: %d bytes, %v; want %d identical bytes", len(got), err, len(audio))
	}

	// --force moves the current database and voicemail directory aside.
	c.ok("restore", "--force", archive)
	aside, _ := filepath.Glob(c.db + ".before-restore-*")
	vmAside, _ := filepath.Glob(filepath.Join(filepath.Dir(c.db), "voicemail.before-restore-*"))
	if len(aside) == 0 || len(vmAside) != 1 {
		t.Errorf("--force left nothing aside: %v %v", aside, vmAside)
	}
	if got := c.ok("ext", "list", "--tenant", "fjordvik", "-o", "json"); got != extsBefore {
		t.Errorf("extensions after restore --force:\n%s", got)
	}
}

func TestBackupVoicemailOnly(t *testing.T) {
	c := withTenant(t)
	c.ok("ext", "add", "2001", "--tenant", "fjordvik", "--name", "Kari")
	audio := seedVoicemail(t, c)
	archive := filepath.Join(t.TempDir(), "vm.tar.gz")
	c.ok("backup", "--voicemail-only", archive)
	if m := readManifest(t, archive); m.Store != backup.KindVoicemailOnly || m.DB != nil || m.FileCount != 1 {
		t.Errorf("manifest: %+v", m)
	}
	vm := filepath.Join(filepath.Dir(c.db), "voicemail")
	if err := os.RemoveAll(vm); err != nil {
		t.Fatal(err)
	}
	// The database stays: a voicemail-only archive does not touch it.
	c.ok("restore", archive)
	if got, err := os.ReadFile(filepath.Join(vm, "fjordvik", "2001", "new", "msg-0001.wav")); err != nil || !bytes.Equal(got, audio) {
		t.Fatalf("voicemail file after restore: %v", err)
	}
}

func TestBackupPostgresRefused(t *testing.T) {
	c := &cli{t: t, db: "postgres://sentral@127.0.0.1:1/sentral"}
	errs := c.fail(exitUser, "backup", filepath.Join(t.TempDir(), "x.tar.gz"))
	if !strings.Contains(errs, "pg_dump --format=custom") || !strings.Contains(errs, "--voicemail-only") {
		t.Errorf("postgres backup: %s", errs)
	}
	errs = c.fail(exitUser, "restore", filepath.Join(t.TempDir(), "x.tar.gz"))
	if !strings.Contains(errs, "pg_restore") || !strings.Contains(errs, "--voicemail-only") {
		t.Errorf("postgres restore: %s", errs)
	}
}

func TestRestoreRefusesBadArchives(t *testing.T) {
	c := withTenant(t)
	seedVoicemail(t, c)
	archive := filepath.Join(t.TempDir(), "good.tar.gz")
	c.ok("backup", archive)
	entries := readEntries(t, archive)

	cases := []struct {
		name, want string
		edit       func([]entry) []entry
	}{
		{"tampered db", "checksum", func(es []entry) []entry {
			for i := range es {
				if es[i].hdr.Name == "sentral.db" {
					es[i].data = bytes.Clone(es[i].data)
					es[i].data[len(es[i].data)-1] ^= 0xff
				}
			}
			return es
		}},
		{"tampered voicemail", "checksum", func(es []entry) []entry {
			for i := range es {
				if strings.HasPrefix(es[i].hdr.Name, "voicemail/") {
					es[i].data = append(bytes.Clone(es[i].data), 0)
				}
			}
			return es
		}},
		{"path traversal", "../evil", func(es []entry) []entry {
			return append([]entry{{&tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")}}, es...)
		}},
		{"nested traversal", "voicemail/../../evil", func(es []entry) []entry {
			return append([]entry{{&tar.Header{Name: "voicemail/../../evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")}}, es...)
		}},
		{"absolute path", "/etc/evil", func(es []entry) []entry {
			return append([]entry{{&tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")}}, es...)
		}},
		{"symlink", "not a regular file", func(es []entry) []entry {
			return append([]entry{{&tar.Header{Name: "voicemail/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil}}, es...)
		}},
		{"unlisted file", "not in its manifest", func(es []entry) []entry {
			return append([]entry{{&tar.Header{Name: "voicemail/extra.wav", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")}}, es...)
		}},
		{"no manifest", "MANIFEST.json", func(es []entry) []entry {
			var keep []entry
			for _, e := range es {
				if e.hdr.Name != "MANIFEST.json" {
					keep = append(keep, e)
				}
			}
			return keep
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t) // an empty target: only the archive is refused
			bad := filepath.Join(t.TempDir(), "bad.tar.gz")
			writeEntries(t, bad, tc.edit(cloneEntries(entries)))
			if errs := c.fail(exitUser, "restore", bad); !strings.Contains(errs, tc.want) {
				t.Errorf("stderr %q lacks %q", errs, tc.want)
			}
			if _, err := os.Stat(c.db); !os.IsNotExist(err) {
				t.Errorf("a refused restore left a database: %v", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.db), "..", "evil")); !os.IsNotExist(err) {
				t.Errorf("path traversal wrote a file")
			}
		})
	}
	if errs := c.fail(exitUser, "restore", filepath.Join(t.TempDir(), "missing.tar.gz")); !strings.Contains(errs, "FILE") {
		t.Errorf("missing archive: %s", errs)
	}
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func readEntries(t *testing.T, p string) []entry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var es []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, entry{h, data})
	}
}

func cloneEntries(es []entry) []entry {
	out := make([]entry, len(es))
	for i, e := range es {
		h := *e.hdr
		out[i] = entry{&h, e.data}
	}
	return out
}

func writeEntries(t *testing.T, p string, es []entry) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range es {
		e.hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readManifest(t *testing.T, p string) backup.Manifest {
	t.Helper()
	for _, e := range readEntries(t, p) {
		if e.hdr.Name == backup.ManifestName {
			var m backup.Manifest
			if err := json.Unmarshal(e.data, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("%s has no manifest", p)
	return backup.Manifest{}
}
