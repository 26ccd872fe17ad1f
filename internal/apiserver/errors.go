package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"pgo.dev/pgo/internal/pgoapi"
)

// apiError is an error with the HTTP answer it deserves.
type apiError struct {
	code    int
	reason  string
	message string
	fields  []pgoapi.FieldError
	// retryAfter, in seconds, is sent as the Retry-After header when > 0.
	retryAfter int
}

func (e *apiError) Error() string { return e.message }

func newError(code int, reason, format string, args ...any) *apiError {
	return &apiError{code: code, reason: reason, message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, pgoapi.ReasonBadRequest, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, pgoapi.ReasonNotFound, format, args...)
}

func conflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, pgoapi.ReasonConflict, format, args...)
}

func forbidden(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, pgoapi.ReasonForbidden, format, args...)
}

func unavailable(format string, args ...any) *apiError {
	return newError(http.StatusServiceUnavailable, pgoapi.ReasonUnavailable, format, args...)
}

// invalid is a 422 answer listing the fields at fault.
func invalid(fields []pgoapi.FieldError) *apiError {
	msg := "the request is invalid:"
	for _, f := range fields {
		msg += " " + f.Field + ": " + f.Message + ";"
	}
	return &apiError{code: http.StatusUnprocessableEntity, reason: pgoapi.ReasonInvalid, message: msg[:len(msg)-1], fields: fields}
}

// toAPIError turns any error into the answer to give: apiErrors as they
// are, Kubernetes API errors by their status, the rest as 500.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		switch {
		case apierrors.IsNotFound(err):
			return notFound("%s", err.Error())
		case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
			return conflict("%s", err.Error())
		case apierrors.IsInvalid(err):
			var fields []pgoapi.FieldError
			if s.Details != nil {
				for _, c := range s.Details.Causes {
					fields = append(fields, pgoapi.FieldError{Field: c.Field, Message: c.Message})
				}
			}
			return &apiError{code: http.StatusUnprocessableEntity, reason: pgoapi.ReasonInvalid, message: "Kubernetes refused the object: " + s.Message, fields: fields}
		case apierrors.IsForbidden(err):
			return newError(http.StatusInternalServerError, pgoapi.ReasonInternal,
				"the apiserver's Kubernetes ServiceAccount is not allowed to do this; add the permission to the operator's RBAC role: %s", s.Message)
		case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err):
			return unavailable("the Kubernetes API is busy; try again: %s", s.Message)
		}
	}
	return newError(http.StatusInternalServerError, pgoapi.ReasonInternal, "%s", err.Error())
}

func (e *apiError) body() pgoapi.Error {
	return pgoapi.Error{Code: e.code, Reason: e.reason, Message: e.message, Fields: e.fields}
}
