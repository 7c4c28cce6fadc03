package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/store"
)

// targetHelp explains forward targets in flag help.
const targetHelp = `voicemail (own mailbox), voicemail:NUMBER (another extension's mailbox) or a number such as 2001 or +4791234567`

// callFeatureFlags binds the call-feature flags of `ext add` (update
// false) and `ext update`, and returns what fills them into an input.
// `ext add` turns voicemail on unless told --voicemail=false: staff expect
// a mailbox, and the Go API's default (off) suits upgrades, not new
// extensions.
func callFeatureFlags(fs *pflag.FlagSet, update bool) func(in *provisioning.ExtensionInput) {
	var always, busy, noAnswer, language string
	var seconds int
	var voicemail, askPIN, dnd bool
	fs.StringVar(&always, "forward-always", "", `forward every call to `+targetHelp+`; "" removes it`)
	fs.StringVar(&busy, "forward-busy", "", `forward calls while busy or in DND; "" removes it`)
	fs.StringVar(&noAnswer, "forward-no-answer", "", `forward calls not answered in --no-answer-seconds, or while not registered; "" removes it`)
	fs.IntVar(&seconds, "no-answer-seconds", 0, fmt.Sprintf("how long the extension rings before --forward-no-answer or voicemail: %d to %d, 0 for the default (%d)",
		store.MinNoAnswerSeconds, store.MaxNoAnswerSeconds, store.DefaultNoAnswerSeconds))
	fs.BoolVar(&dnd, "dnd", false, "do not disturb: calls are treated as busy (--dnd=false turns it off)")
	voicemailHelp := "the mailbox takes calls the extension does not answer, unless a forward says otherwise (--voicemail=false turns it off)"
	if !update {
		voicemailHelp = "the mailbox takes calls the extension does not answer, unless a forward says otherwise (--voicemail=false: no mailbox)"
	}
	fs.BoolVar(&voicemail, "voicemail", !update, voicemailHelp)
	fs.BoolVar(&askPIN, "voicemail-ask-pin", false, "ask for the PIN even when the mailbox is called from the extension's own phone")
	fs.StringVar(&language, "language", "", `prompt language: nb (Norwegian bokmål, the default) or en (English)`)
	return func(in *provisioning.ExtensionInput) {
		in.ForwardAlways, in.ForwardBusy, in.ForwardNoAnswer = optStr(fs, "forward-always", &always), optStr(fs, "forward-busy", &busy), optStr(fs, "forward-no-answer", &noAnswer)
		in.NoAnswerSeconds, in.DND, in.Language = optInt(fs, "no-answer-seconds", &seconds), optBool(fs, "dnd", &dnd), optStr(fs, "language", &language)
		in.VoicemailAskPIN = optBool(fs, "voicemail-ask-pin", &askPIN)
		in.Voicemail = optBool(fs, "voicemail", &voicemail)
		if !update && in.Voicemail == nil {
			on := true
			in.Voicemail = &on
		}
	}
}

// callFeatureCols show an extension's call features, with the defaults
// applied: what a call to it does now.
func callFeatureCols[T any](ext func(T) store.Extension) []column[T] {
	return []column[T]{
		{"forward_always", func(v T) string { return ext(v).ForwardAlways }},
		{"forward_busy", func(v T) string { return ext(v).ForwardBusy }},
		{"forward_no_answer", func(v T) string { return ext(v).ForwardNoAnswer }},
		{"no_answer_seconds", func(v T) string { return strconv.Itoa(int(ext(v).NoAnswerAfter() / time.Second)) }},
		{"dnd", func(v T) string { return strconv.FormatBool(ext(v).DND) }},
		{"voicemail", func(v T) string { return strconv.FormatBool(ext(v).Voicemail) }},
		{"voicemail_ask_pin", func(v T) string { return strconv.FormatBool(ext(v).VoicemailAskPIN) }},
		{"language", func(v T) string { return ext(v).PromptLanguage() }},
	}
}

// extDetailCols is what `ext show`, add and update print: the list
// columns and the call features.
var extDetailCols = slices.Concat(extCols,
	callFeatureCols(func(e provisioning.ExtensionView) store.Extension { return e.Extension }))

// forwardCols is what `ext forward` and `ext dnd` print.
var forwardCols = slices.Concat(
	[]column[store.Extension]{{"number", func(e store.Extension) string { return e.Number }}},
	callFeatureCols(func(e store.Extension) store.Extension { return e }))

// oneArg checks a command got exactly one NUMBER argument.
func oneArg(cmd string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("%s: give exactly one NUMBER argument, got %d; fix: e.g. `sentral %s 2001 --tenant fjordvik ...`", cmd, len(args), cmd)}
		}
		return nil
	}
}

// printFeatures reports what `ext forward` or `ext dnd` did: a sentence
// and the call features in table mode, the extension only as JSON or CSV.
func (a *app) printFeatures(sentence string, e store.Extension) error {
	if a.output == "table" {
		fmt.Fprintln(a.stdout, sentence)
	}
	return printOne(a, e, forwardCols)
}

// extForwardCmd sets or removes one call forward of an extension, the way
// a phone's feature code does.
func (a *app) extForwardCmd() *cobra.Command {
	var tenant, always, busy, noAnswer, off string
	var after int
	cmd := &cobra.Command{
		Use:   "forward NUMBER --tenant TENANT (--always TARGET | --busy TARGET | --no-answer TARGET [--after SECONDS] | --off always|busy|no-answer|all)",
		Short: "Set or remove an extension's call forward",
		Long: `Set or remove one call forward of an extension, as its phone's feature codes do.

TARGET is voicemail (the extension's own mailbox), voicemail:NUMBER (another
extension's mailbox) or a number such as 2001 or +4791234567.
--always takes every call before the phone rings; --busy takes calls while the
extension is busy or in do-not-disturb; --no-answer takes calls not answered
within --after seconds (default ` + strconv.Itoa(store.DefaultNoAnswerSeconds) + `; the time is kept when --after is not given)
and calls while no phone is registered. --off removes one forward, or all.`,
		Args: oneArg("ext forward"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			fs := cmd.Flags()
			var given []string
			for _, f := range []string{"always", "busy", "no-answer", "off"} {
				if fs.Changed(f) {
					given = append(given, "--"+f)
				}
			}
			if len(given) != 1 {
				problem := "none of them was given"
				if len(given) > 1 {
					problem = strings.Join(given, " and ") + " were given together"
				}
				return provisioning.Invalid("--always|--busy|--no-answer|--off", "", problem,
					"give exactly one, e.g. --busy voicemail, --no-answer 2002 --after 15, or --off all")
			}
			if fs.Changed("after") && !fs.Changed("no-answer") {
				return provisioning.Invalid("--after", strconv.Itoa(after), "only applies to --no-answer",
					"drop --after, or give it with --no-answer TARGET (ext update --no-answer-seconds changes it alone)")
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			ctx, number := cmd.Context(), args[0]
			set := func(kind provisioning.ForwardKind, target string) error {
				e, err := p.SetForward(ctx, tenant, number, kind, target, after)
				if err != nil {
					return err
				}
				s := fmt.Sprintf("extension %s forwards %s to %s", e.Number, forwardWhen(kind), target)
				if target == "" {
					s = fmt.Sprintf("forward %s of extension %s removed", kind, e.Number)
				}
				return a.printFeatures(s, e)
			}
			switch {
			case fs.Changed("always"):
				return set(provisioning.ForwardAlways, always)
			case fs.Changed("busy"):
				return set(provisioning.ForwardBusy, busy)
			case fs.Changed("no-answer"):
				return set(provisioning.ForwardNoAnswer, noAnswer)
			}
			switch strings.ToLower(strings.TrimSpace(off)) {
			case "all":
				return a.forwardOffAll(ctx, p, tenant, number)
			case string(provisioning.ForwardAlways), string(provisioning.ForwardBusy), string(provisioning.ForwardNoAnswer):
				return set(provisioning.ForwardKind(strings.ToLower(strings.TrimSpace(off))), "")
			}
			return provisioning.Invalid("--off", off, "is not a kind of call forward", "use always, busy, no-answer or all")
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant the extension belongs to")
	fs.StringVar(&always, "always", "", "forward every call to TARGET")
	fs.StringVar(&busy, "busy", "", "forward calls to TARGET while busy or in do-not-disturb")
	fs.StringVar(&noAnswer, "no-answer", "", "forward calls not answered (or while not registered) to TARGET")
	fs.IntVar(&after, "after", 0, fmt.Sprintf("with --no-answer: ring %d to %d seconds first (default: keep the current time)", store.MinNoAnswerSeconds, store.MaxNoAnswerSeconds))
	fs.StringVar(&off, "off", "", "remove a forward: always, busy, no-answer or all")
	a.addOutputFlag(cmd)
	return cmd
}

// forwardWhen words a forward kind for the sentence `ext forward` prints.
func forwardWhen(k provisioning.ForwardKind) string {
	switch k {
	case provisioning.ForwardBusy:
		return "calls when busy"
	case provisioning.ForwardNoAnswer:
		return "unanswered calls"
	}
	return "every call"
}

// forwardOffAll removes every forward of an extension in one write.
func (a *app) forwardOffAll(ctx context.Context, p *provisioning.Service, tenant, number string) error {
	none := ""
	v, err := p.UpdateExtension(ctx, tenant, number, provisioning.ExtensionInput{ForwardAlways: &none, ForwardBusy: &none, ForwardNoAnswer: &none})
	if err != nil {
		return err
	}
	return a.printFeatures(fmt.Sprintf("every forward of extension %s removed", v.Number), v.Extension)
}

// extDNDCmd turns an extension's do-not-disturb on or off.
func (a *app) extDNDCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "dnd NUMBER --tenant TENANT on|off",
		Short: "Turn an extension's do-not-disturb on or off",
		Long: `Turn an extension's do-not-disturb on or off, as its phone's feature codes do.
In do-not-disturb the extension is treated as busy: calls go where its busy
forward or its mailbox says, or the caller hears busy.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("ext dnd: give NUMBER and on or off, got %d arguments; fix: e.g. `sentral ext dnd 2001 --tenant fjordvik on`", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			var on bool
			switch strings.ToLower(strings.TrimSpace(args[1])) {
			case "on":
				on = true
			case "off":
			default:
				return provisioning.Invalid("on|off", args[1], "is neither on nor off", fmt.Sprintf("use `sentral ext dnd %s --tenant TENANT on` or `... off`", args[0]))
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			e, err := p.SetDND(cmd.Context(), tenant, args[0], on)
			if err != nil {
				return err
			}
			state := "off"
			if e.DND {
				state = "on"
			}
			return a.printFeatures(fmt.Sprintf("do-not-disturb %s for extension %s", state, e.Number), e)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant the extension belongs to")
	a.addOutputFlag(cmd)
	return cmd
}

var pinCols = []column[provisioning.ExtensionView]{
	{"number", func(e provisioning.ExtensionView) string { return e.Number }},
	{"voicemail_pin", func(e provisioning.ExtensionView) string { return strconv.FormatBool(e.VoicemailPIN) }},
	{"generated_pin", func(e provisioning.ExtensionView) string { return e.GeneratedPIN }},
}

// extPINCmd sets an extension's voicemail PIN: given, from stdin,
// generated, or typed twice at a terminal without echo; or clears it.
func (a *app) extPINCmd() *cobra.Command {
	var tenant, pin string
	var fromStdin, generate, clear bool
	cmd := &cobra.Command{
		Use:   "pin NUMBER --tenant TENANT [--pin PIN | --pin-stdin | --generate | --clear]",
		Short: "Set an extension's voicemail PIN",
		Long: `Set an extension's voicemail PIN, which the security.pin policy of the
configuration must accept (digits only, not a run, a repeated digit or the
extension number). Without --pin, --pin-stdin, --generate or --clear the PIN
is asked for twice at the terminal. Sentral keeps only a hash of it.`,
		Args: oneArg("ext pin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			var given []string
			for _, f := range []string{"pin", "pin-stdin", "generate", "clear"} {
				if cmd.Flags().Changed(f) {
					given = append(given, "--"+f)
				}
			}
			if len(given) > 1 {
				return usageError{fmt.Errorf("%s: give only one; fix: drop all but one of them", strings.Join(given, " and "))}
			}
			switch {
			case generate, clear:
				pin = ""
			case cmd.Flags().Changed("pin"):
				if strings.TrimSpace(pin) == "" {
					return provisioning.Invalid("--pin", "", "is empty", "give the new PIN, or use --clear to remove the PIN")
				}
			case fromStdin:
				v, err := readSecret(a.stdin, "pin")
				if err != nil {
					return err
				}
				pin = v
			default:
				v, err := a.promptSecret("voicemail PIN", "use --pin-stdin or --generate")
				if err != nil {
					return err
				}
				if strings.TrimSpace(v) == "" {
					return provisioning.Invalid("PIN", "", "is empty", "type the new PIN, or use --clear to remove the PIN")
				}
				pin = v
			}
			p, err := a.provisioner(cmd.Context())
			if err != nil {
				return err
			}
			e, err := p.SetPIN(cmd.Context(), tenant, args[0], pin, generate)
			if err != nil {
				return err
			}
			if a.output != "table" {
				return printOne(a, e, pinCols)
			}
			switch {
			case e.GeneratedPIN != "":
				fmt.Fprintf(a.stdout, "generated voicemail PIN for extension %s: %s\n(shown only this once: Sentral keeps only its hash)\n", e.Number, e.GeneratedPIN)
			case e.VoicemailPIN:
				fmt.Fprintf(a.stdout, "new voicemail PIN set for extension %s\n", e.Number)
			default:
				fmt.Fprintf(a.stdout, "voicemail PIN of extension %s removed\n", e.Number)
			}
			if !e.Voicemail {
				fmt.Fprintf(a.stderr, "note: extension %s has voicemail off: turn it on with `sentral ext update %s --tenant %s --voicemail`\n", e.Number, e.Number, e.Tenant)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant the extension belongs to")
	fs.StringVar(&pin, "pin", "", "the new PIN (visible in shell history and ps: prefer --pin-stdin)")
	fs.BoolVar(&fromStdin, "pin-stdin", false, "read the new PIN from the first line of standard input")
	fs.BoolVar(&generate, "generate", false, "generate a PIN the policy accepts and print it once")
	fs.BoolVar(&clear, "clear", false, "remove the PIN")
	a.addOutputFlag(cmd)
	return cmd
}
