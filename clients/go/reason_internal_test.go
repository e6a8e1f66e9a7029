package cove

import (
	"testing"

	errorsv1 "cove.dev/gen/cove/errors/v1"
)

func TestReasonNameDropsThePrefix(t *testing.T) {
	cases := map[errorsv1.ErrorReason]string{
		errorsv1.ErrorReason_ERROR_REASON_SANDBOX_NOT_FOUND: "SANDBOX_NOT_FOUND",
		errorsv1.ErrorReason_ERROR_REASON_UNSPECIFIED:       "",
		errorsv1.ErrorReason(987654):                        "",
	}
	for value, want := range cases {
		if got := reasonName(value); got != want {
			t.Errorf("reasonName(%d) = %q, want %q", value, got, want)
		}
	}
}
