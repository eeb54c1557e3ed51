package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/wallet"
)

// maxCallbackBytes bounds a bank callback body.
const maxCallbackBytes = 64 << 10

// bankCallback is the gateway's signed notification endpoint
// (bank.CallbackPath): it verifies the signature and its timestamp, decodes
// the bank.Callback and has the wallet apply it once. It answers 200 for
// applied and duplicate outcomes, 401 for forged or stale callbacks, 400
// malformed, 404 unknown reference, 409 an outcome contradicting the
// applied one, 422 an amount or currency that is not the operation's
// (AMOUNT_MISMATCH). Refusals carry {"code": ...} with the apperr code.
func bankCallback(w *wallet.Service, signer bank.Signer, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxCallbackBytes))
		if err != nil {
			callbackRefusal(rw, http.StatusRequestEntityTooLarge, apperr.InvalidInput, "body too large")
			return
		}
		if err := signer.Verify(r.Header.Get(bank.SignatureHeader), body, time.Now()); err != nil {
			status, code := http.StatusUnauthorized, apperr.Unauthenticated
			if apperr.Is(err, apperr.InvalidInput) {
				status, code = http.StatusBadRequest, apperr.InvalidInput
			}
			log.WarnContext(r.Context(), "bank callback refused", "reason", err.Error())
			callbackRefusal(rw, status, code, "signature refused")
			return
		}
		var cb bank.Callback
		if err := json.Unmarshal(body, &cb); err != nil || cb.Reference == "" {
			callbackRefusal(rw, http.StatusBadRequest, apperr.InvalidInput, "malformed callback")
			return
		}
		err = w.ApplyOutcome(r.Context(), cb)
		code := apperr.CodeOf(err)
		switch {
		case err == nil:
			rw.WriteHeader(http.StatusOK)
		case code == apperr.NotFound:
			callbackRefusal(rw, http.StatusNotFound, code, "unknown reference")
		case code == apperr.InvalidInput:
			callbackRefusal(rw, http.StatusBadRequest, code, "malformed callback")
		case code == apperr.AmountMismatch:
			// wallet.ApplyOutcome has logged the alert.
			callbackRefusal(rw, http.StatusUnprocessableEntity, code, "amount or currency differs from the operation's")
		case code == apperr.Conflict:
			log.ErrorContext(r.Context(), "bank callback contradicts the applied outcome", "reference", cb.Reference, "outcome", cb.Outcome)
			callbackRefusal(rw, http.StatusConflict, code, "conflicting outcome")
		default:
			log.ErrorContext(r.Context(), "bank callback failed", "reference", cb.Reference, "error", err)
			callbackRefusal(rw, http.StatusInternalServerError, apperr.Internal, "internal error")
		}
	})
}

// callbackRefusal answers a bank callback with status and a small JSON body
// naming the stable code.
func callbackRefusal(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": string(code), "message": msg})
}
