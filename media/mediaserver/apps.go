package mediaserver

import (
	"context"

	"github.com/sentralpbx/sentral/media/voicemail"
)

// Application names, the request-URI user parts the proxy routes to.
const (
	AppDeposit  = "deposit"
	AppRetrieve = "retrieve"
	AppAnnounce = "announce"
)

// VoicemailApps returns vm's applications under the names the proxy
// routes to, ready for Config.Apps.
func VoicemailApps(vm *voicemail.App) map[string]App {
	return map[string]App{
		AppDeposit:  AppFunc(func(ctx context.Context, s *Session) { vm.Deposit(ctx, s) }),
		AppRetrieve: AppFunc(func(ctx context.Context, s *Session) { vm.Retrieve(ctx, s) }),
		AppAnnounce: AppFunc(func(ctx context.Context, s *Session) { vm.Announce(ctx, s) }),
	}
}
