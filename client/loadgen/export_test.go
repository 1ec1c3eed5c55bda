package loadgen

// MaxPrintedErrors is maxPrintedErrors, for the external tests.
const MaxPrintedErrors = maxPrintedErrors
