package cove

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
)

// maxExecutionLogBytes is how much of each printed stream an Execution keeps; callbacks
// still receive everything.
const maxExecutionLogBytes = 8 << 20

// CodeInterpreter runs code in stateful contexts (kernels) inside one sandbox
// (Sandbox.CodeInterpreter): variables, imports and definitions survive from one RunCode to
// the next in the same context, as in a notebook.
type CodeInterpreter struct {
	sandbox *Sandbox
}

// CodeInterpreter returns the sandbox's code interpreter.
func (s *Sandbox) CodeInterpreter() *CodeInterpreter { return &CodeInterpreter{sandbox: s} }

// CodeContext is a stateful interpreter context.
type CodeContext struct {
	// ID names the context ("ctx_…").
	ID string
	// Language is the context's language, e.g. Python.
	Language Language
	// Cwd is the absolute directory the context started in.
	Cwd string
	// ExecutionCount is how many executions ran so far.
	ExecutionCount int
	// Busy is true while an execution runs.
	Busy bool
	// CreateTime is when the context was created or last restarted.
	CreateTime time.Time
}

func contextOf(m *toolboxv1.CodeContext) *CodeContext {
	return &CodeContext{
		ID:             m.GetContextId(),
		Language:       Language(strings.ToLower(strings.TrimPrefix(m.GetLanguage().String(), "CODE_LANGUAGE_"))),
		Cwd:            m.GetCwd(),
		ExecutionCount: int(m.GetExecutionCount()),
		Busy:           m.GetBusy(),
		CreateTime:     m.GetCreateTime().AsTime(),
	}
}

// CreateContextOptions tune CreateContext.
type CreateContextOptions struct {
	// Language is the context's language: Python (the default), JavaScript or TypeScript.
	Language Language
	// Cwd is the working directory. Default the user's home.
	Cwd string
	// Env holds environment variables for the kernel.
	Env map[string]string
}

// CreateContext starts a new context (a fresh kernel).
func (ci *CodeInterpreter) CreateContext(ctx context.Context, opts CreateContextOptions) (*CodeContext, error) {
	lang, err := opts.Language.proto()
	if err != nil {
		return nil, err
	}
	c := ci.sandbox.client
	res, err := once(ctx, c, c.timeout, ci.sandbox.interpreter.CreateContext, &toolboxv1.CreateContextRequest{
		Language: lang, Cwd: opts.Cwd, Env: opts.Env,
	})
	if err != nil {
		return nil, err
	}
	return contextOf(res.GetContext()), nil
}

// ListContexts lists every context, oldest first.
func (ci *CodeInterpreter) ListContexts(ctx context.Context) ([]*CodeContext, error) {
	c := ci.sandbox.client
	res, err := unary(ctx, c, c.timeout, ci.sandbox.interpreter.ListContexts, &toolboxv1.ListContextsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]*CodeContext, 0, len(res.GetContexts()))
	for _, m := range res.GetContexts() {
		out = append(out, contextOf(m))
	}
	return out, nil
}

// DeleteContext stops a context's kernel and forgets it.
func (ci *CodeInterpreter) DeleteContext(ctx context.Context, contextID string) error {
	c := ci.sandbox.client
	_, err := once(ctx, c, c.timeout, ci.sandbox.interpreter.DeleteContext, &toolboxv1.DeleteContextRequest{ContextId: contextID})
	return err
}

// RestartContext replaces a context's kernel with a fresh one (same id, state lost).
func (ci *CodeInterpreter) RestartContext(ctx context.Context, contextID string) (*CodeContext, error) {
	c := ci.sandbox.client
	res, err := once(ctx, c, c.timeout, ci.sandbox.interpreter.RestartContext, &toolboxv1.RestartContextRequest{ContextId: contextID})
	if err != nil {
		return nil, err
	}
	return contextOf(res.GetContext()), nil
}

// Interrupt stops the context's running execution (KeyboardInterrupt); an idle context is fine.
func (ci *CodeInterpreter) Interrupt(ctx context.Context, contextID string) error {
	c := ci.sandbox.client
	_, err := unary(ctx, c, c.timeout, ci.sandbox.interpreter.InterruptContext, &toolboxv1.InterruptContextRequest{ContextId: contextID})
	return err
}

// ExecutionResult is a displayed value (a MIME bundle): the code's last expression, or one
// shown with display().
type ExecutionResult struct {
	// IsMainResult is true for the value of the last expression.
	IsMainResult bool
	// Data holds the textual representations by MIME type ("text/plain", "text/html", …).
	Data map[string]string
	// Binary holds the binary representations by MIME type ("image/png", …), raw bytes.
	Binary map[string][]byte
	// Chart is the data of a drawn chart when the sandbox could read it (PNG holds the
	// image), or nil.
	Chart *Chart
}

// Chart is the data of a chart the code drew (a matplotlib figure with one Axes), E2B's chart.
type Chart struct {
	// Type is "line", "bar", "scatter" or "pie".
	Type string
	// Title is the chart's title, or "".
	Title string
	// XAxis and YAxis are the axes (nil for pies).
	XAxis, YAxis *ChartAxis
	// Series are the lines, bar groups or point sets; a pie has one.
	Series []ChartSeries
	// Horizontal is true for horizontal bars.
	Horizontal bool
}

// ChartAxis is one axis of a Chart.
type ChartAxis struct {
	// Label is the axis label; Scale matplotlib's scale name ("linear", "log", …).
	Label, Scale string
	// Ticks are the major tick positions and TickLabels their texts.
	Ticks      []float64
	TickLabels []string
}

// ChartSeries is one line, bar group, point set or pie of a Chart (NaN marks gaps).
type ChartSeries struct {
	// Label is the legend label, or "".
	Label string
	// X are the x coordinates (bar centres; empty for a pie); dates as matplotlib date numbers.
	X []float64
	// XLabels name the x values when they were not numbers (dates in ISO 8601, categories,
	// pie wedges).
	XLabels []string
	// Y are the values (bar lengths; for a pie each wedge's fraction, summing to 1).
	Y []float64
}

var chartTypes = map[toolboxv1.ChartType]string{
	toolboxv1.ChartType_CHART_TYPE_LINE:    "line",
	toolboxv1.ChartType_CHART_TYPE_BAR:     "bar",
	toolboxv1.ChartType_CHART_TYPE_SCATTER: "scatter",
	toolboxv1.ChartType_CHART_TYPE_PIE:     "pie",
}

func axisOf(m *toolboxv1.ChartAxis) *ChartAxis {
	if m == nil {
		return nil
	}
	return &ChartAxis{Label: m.GetLabel(), Scale: m.GetScale(), Ticks: m.GetTicks(), TickLabels: m.GetTickLabels()}
}

func chartOf(m *toolboxv1.Chart) *Chart {
	kind, ok := chartTypes[m.GetType()]
	if m == nil || !ok {
		return nil
	}
	out := &Chart{Type: kind, Title: m.GetTitle(), XAxis: axisOf(m.GetXAxis()), YAxis: axisOf(m.GetYAxis()), Horizontal: m.GetHorizontal()}
	for _, s := range m.GetSeries() {
		out.Series = append(out.Series, ChartSeries{Label: s.GetLabel(), X: s.GetX(), XLabels: s.GetXLabels(), Y: s.GetY()})
	}
	return out
}

// Text is the text/plain representation.
func (r ExecutionResult) Text() string { return r.Data["text/plain"] }

// HTML is the text/html representation.
func (r ExecutionResult) HTML() string { return r.Data["text/html"] }

// PNG is the image/png representation.
func (r ExecutionResult) PNG() []byte { return r.Binary["image/png"] }

// ExecutionError is the exception that stopped an execution.
type ExecutionError struct {
	// Name is the exception's type, e.g. "ZeroDivisionError"; "TimeoutError" at the timeout.
	Name string
	// Value is its message.
	Value string
	// Traceback is the formatted traceback.
	Traceback string
}

// Execution is what RunCode returns: printed output, results and the error, if any.
type Execution struct {
	// Stdout and Stderr are what the code printed (up to 8 MiB each).
	Stdout, Stderr string
	// LogsTruncated is true when more was printed than Stdout and Stderr kept.
	LogsTruncated bool
	// Results are the displayed values, in order.
	Results []ExecutionResult
	// Error is the exception that stopped the code, or nil.
	Error *ExecutionError
	// ExecutionCount is this execution's number in its context.
	ExecutionCount int
	// TimedOut is true when the timeout interrupted the execution.
	TimedOut bool
}

// Text is the main result's text/plain, or "" without a main result.
func (e *Execution) Text() string {
	for _, r := range e.Results {
		if r.IsMainResult {
			return r.Text()
		}
	}
	return ""
}

// RunCodeOptions tune RunCode; the callbacks run on the calling goroutine as events arrive.
type RunCodeOptions struct {
	// ContextID is the context to run in. Empty means the language's default context.
	ContextID string
	// Language picks the default context when ContextID is empty. Default Python.
	Language Language
	// Env holds environment variables for this execution only.
	Env map[string]string
	// Timeout interrupts the execution after this long (the context survives). Zero means none.
	Timeout time.Duration
	// OnStdout and OnStderr receive printed text as it arrives.
	OnStdout, OnStderr func(text string)
	// OnResult receives each displayed value.
	OnResult func(ExecutionResult)
	// OnError receives the exception, if the code raised.
	OnError func(ExecutionError)
}

// RunCode runs code in a context and returns once it ended. An exception in the code is
// Execution.Error, not an error; RunCode fails only when the code could not run (unknown
// context, …). Cancelling ctx interrupts the execution.
func (ci *CodeInterpreter) RunCode(ctx context.Context, code string, opts RunCodeOptions) (*Execution, error) {
	lang, err := opts.Language.proto()
	if err != nil {
		return nil, err
	}
	// A deadline unless ctx has one: the timeout plus the call margin, else the daemon's
	// longest timeout (24 h).
	limit := 24 * time.Hour
	if opts.Timeout > 0 {
		limit = opts.Timeout + ci.sandbox.client.timeout
	}
	ctx, stop := withDefaultTimeout(ctx, limit)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := ci.sandbox.interpreter.RunCode(ctx, connect.NewRequest(&toolboxv1.RunCodeRequest{
		ContextId: opts.ContextID, Language: lang, Code: code, Env: opts.Env, Timeout: durationOrNil(opts.Timeout),
	}))
	if err != nil {
		return nil, fromRPC(err)
	}
	defer func() { _ = stream.Close() }()
	watchdog := time.AfterFunc(streamIdleLimit, func() {
		cancel(localError(connect.CodeUnavailable, "code execution stream silent for %v", streamIdleLimit))
	})
	defer watchdog.Stop()
	var out Execution
	var stdout, stderr strings.Builder
	keep := func(b *strings.Builder, text string) {
		if b.Len()+len(text) > maxExecutionLogBytes {
			out.LogsTruncated = true
			return
		}
		b.WriteString(text)
	}
	for stream.Receive() {
		watchdog.Reset(streamIdleLimit)
		switch ev := stream.Msg().GetEvent().GetEvent().(type) {
		case *toolboxv1.ExecutionEvent_Stdout:
			keep(&stdout, ev.Stdout.GetText())
			if opts.OnStdout != nil {
				opts.OnStdout(ev.Stdout.GetText())
			}
		case *toolboxv1.ExecutionEvent_Stderr:
			keep(&stderr, ev.Stderr.GetText())
			if opts.OnStderr != nil {
				opts.OnStderr(ev.Stderr.GetText())
			}
		case *toolboxv1.ExecutionEvent_Result:
			r := ExecutionResult{IsMainResult: ev.Result.GetIsMainResult(), Data: ev.Result.GetTextData(), Binary: ev.Result.GetBinaryData(), Chart: chartOf(ev.Result.GetChart())}
			out.Results = append(out.Results, r)
			if opts.OnResult != nil {
				opts.OnResult(r)
			}
		case *toolboxv1.ExecutionEvent_Error:
			e := ExecutionError{Name: ev.Error.GetName(), Value: ev.Error.GetValue(), Traceback: ev.Error.GetTraceback()}
			out.Error = &e
			if opts.OnError != nil {
				opts.OnError(e)
			}
		case *toolboxv1.ExecutionEvent_End:
			out.ExecutionCount = int(ev.End.GetExecutionCount())
			out.TimedOut = ev.End.GetTimedOut()
			out.Stdout, out.Stderr = stdout.String(), stderr.String()
			return &out, nil
		}
	}
	if err := streamErr(ctx, stream.Err()); err != nil {
		return nil, err
	}
	return nil, localError(connect.CodeUnavailable, "code execution stream ended before the execution did")
}
