package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/limits"
	"github.com/dirgate/dirgate/providers"
)

// inputError is an error in the request, safe to show as it is.
type inputError struct {
	code errcode.Code
	msg  string
}

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{code: errcode.BadUserInput, msg: fmt.Sprintf(format, args...)}
}

func badCursor(arg string) error {
	return &inputError{code: errcode.BadCursor, msg: fmt.Sprintf("%s: the cursor is malformed or altered, or was made with another filter", arg)}
}

// PresentError returns an error presenter that gives every error a code
// from the closed set and a message safe for clients. Causes that clients
// must not see are logged here, once.
func PresentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var (
			ie *inputError
			pe *providers.Error
		)
		switch {
		case errors.As(err, &ie):
			gqlErr.Message = ie.msg
			setCode(gqlErr, ie.code)
		case errors.As(err, &pe):
			gqlErr.Message = pe.Error()
			setCode(gqlErr, pe.Code)
			gqlErr.Extensions["provider"] = pe.Provider
			if pe.Code == errcode.ProviderRateLimited && pe.RetryAfter > 0 {
				gqlErr.Extensions["retryAfter"] = int(math.Ceil(pe.RetryAfter.Seconds()))
			}
			log.LogAttrs(ctx, slog.LevelWarn, "provider failed",
				slog.String("provider", pe.Provider), slog.String("code", string(pe.Code)), slog.Any("err", pe.Err))
		case gqlErr.Extensions["code"] != nil && gqlErr.Err == nil:
			// gqlgen's own parse and validation errors, the limits', and
			// the transport's and persisted queries' (see HTTP).
			if limits.IsTokenLimit(gqlErr) {
				setCode(gqlErr, errcode.TokenLimit)
			}
		default:
			// Anything else, an error without a code included, is a bug.
			log.LogAttrs(ctx, slog.LevelError, "internal error", slog.Any("err", err), slog.String("path", gqlErr.Path.String()))
			gqlErr.Message = "internal error"
			setCode(gqlErr, errcode.Internal)
		}
		return gqlErr
	}
}

func setCode(e *gqlerror.Error, code errcode.Code) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = string(code)
}

// Recover turns a panic in a resolver into an INTERNAL error, logged with
// the panic value.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.LogAttrs(ctx, slog.LevelError, "panic in resolver", slog.Any("panic", p))
		return errors.New("panic")
	}
}
