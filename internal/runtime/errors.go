package runtime

import "fmt"

// classError is an error of an errdefs class whose message does not repeat
// the class ("container x does not exist", not "...: not found"), since
// the runtime's messages are shown to users as they are.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// errorf formats a message and classes it for errors.Is and errdefs.
func errorf(class error, format string, a ...any) error {
	return &classError{msg: fmt.Sprintf(format, a...), class: class}
}
