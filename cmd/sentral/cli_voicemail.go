package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// voicemailCmd groups the voicemail commands.
func (a *app) voicemailCmd() *cobra.Command {
	c := &cobra.Command{Use: "voicemail", Short: "Voicemail messages left in extensions' mailboxes"}
	c.AddCommand(a.voicemailListCmd())
	return c
}

func (a *app) voicemailListCmd() *cobra.Command {
	var tenant, mailbox, folder, tz string
	cmd := &cobra.Command{
		Use:   "list --tenant TENANT [--mailbox NUMBER] [--folder new|saved] [flags]",
		Short: "List voicemail messages, by mailbox, oldest first",
		Long: `List the voicemail messages of one mailbox (--mailbox, an extension number)
or of every mailbox of the tenant that has any. --folder new shows messages not
yet heard, --folder saved those heard and kept; both by default. A message
outlives its extension until it is deleted, so a mailbox may be a number no
extension has any more. Table and CSV output show times in the --tz zone
(default Europe/Oslo); JSON shows them in UTC. The audio files are under the
voicemail directory, at the path shown.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageError{fmt.Errorf("voicemail list takes no arguments, got %q; fix: give the mailbox with --mailbox NUMBER", strings.Join(args, " "))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			loc, err := time.LoadLocation(tz)
			if err != nil || tz == "" {
				return provisioning.Invalid("--tz", tz, "is not a known time zone", "use an IANA zone name such as Europe/Oslo or UTC")
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			ms, err := p.VoicemailMessages(cmd.Context(), tenant, mailbox, folder)
			if err != nil {
				return err
			}
			return printList(a, ms, voicemailColumns(loc, a.output == "csv"))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant whose mailboxes to list (see: sentral tenant list)")
	fs.StringVar(&mailbox, "mailbox", "", "only this mailbox (extension NUMBER)")
	fs.StringVar(&folder, "folder", "", "only new (not yet heard) or saved (heard and kept) messages")
	fs.StringVar(&tz, "tz", defaultTZ, "IANA time zone of the times shown")
	a.addOutputFlag(cmd)
	return cmd
}

// voicemailColumns are the table columns or the CSV columns (every field,
// named as in JSON). Times are shown in loc: in the table without offset,
// in CSV as RFC 3339.
func voicemailColumns(loc *time.Location, csv bool) []column[store.VoicemailMessage] {
	layout := "2006-01-02 15:04:05"
	if csv {
		layout = time.RFC3339
	}
	received := func(m store.VoicemailMessage) string { return m.ReceivedAt.In(loc).Format(layout) }
	id := func(m store.VoicemailMessage) string { return strconv.FormatInt(m.ID, 10) }
	if !csv {
		return []column[store.VoicemailMessage]{
			{"received", received},
			{"mailbox", func(m store.VoicemailMessage) string { return m.Mailbox }},
			{"folder", func(m store.VoicemailMessage) string { return string(m.Folder) }},
			{"caller", func(m store.VoicemailMessage) string { return m.CallerNumber }},
			{"name", func(m store.VoicemailMessage) string { return m.CallerName }},
			{"seconds", func(m store.VoicemailMessage) string { return strconv.FormatInt((m.DurationMillis+500)/1000, 10) }},
			{"urgent", func(m store.VoicemailMessage) string { return strconv.FormatBool(m.Urgent) }},
			{"id", id},
		}
	}
	return []column[store.VoicemailMessage]{
		{"id", id},
		{"mailbox", func(m store.VoicemailMessage) string { return m.Mailbox }},
		{"caller_number", func(m store.VoicemailMessage) string { return m.CallerNumber }},
		{"caller_name", func(m store.VoicemailMessage) string { return m.CallerName }},
		{"call_id", func(m store.VoicemailMessage) string { return m.CallID }},
		{"received_at", received},
		{"duration_millis", func(m store.VoicemailMessage) string { return strconv.FormatInt(m.DurationMillis, 10) }},
		{"folder", func(m store.VoicemailMessage) string { return string(m.Folder) }},
		{"path", func(m store.VoicemailMessage) string { return m.Path }},
		{"size_bytes", func(m store.VoicemailMessage) string { return strconv.FormatInt(m.SizeBytes, 10) }},
		{"urgent", func(m store.VoicemailMessage) string { return strconv.FormatBool(m.Urgent) }},
	}
}
