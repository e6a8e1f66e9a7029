/**
 * PYTHON_FIGURES_SOURCE is the part of the Python kernel that shows matplotlib figures, as a
 * notebook's inline backend does: matplotlib is pointed at a backend of the kernel's own when it
 * is first imported (unless MPLBACKEND or matplotlib.use chose another), plt.show() and the end
 * of every execution display each open figure as a result (image/png, plus a structured
 * description of the chart when the figure has one Axes holding only lines, only bars, only
 * scatter points or only a pie) and close it. Appended to the kernel's source; `_emit` and
 * `_main_loop` come from there.
 */
export const PYTHON_FIGURES_SOURCE = String.raw`
import importlib.abc, importlib.util, math, types

_BACKEND = "module://cove_matplotlib_backend"
_MAX_SERIES = 100
_MAX_VALUES = 10000


class _BackendLoader(importlib.abc.Loader):
    """Makes the module matplotlib loads for the kernel's backend: Agg, shown by the kernel."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from matplotlib.backend_bases import FigureManagerBase
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        module.FigureCanvas = FigureCanvasAgg
        module.FigureManager = FigureManagerBase
        module.show = lambda *args, **kwargs: _show_figures()


class _MatplotlibHook(importlib.abc.MetaPathFinder):
    """Provides the backend module, and points matplotlib at it when first imported."""

    def __init__(self):
        self.pointed = False

    def find_spec(self, name, path=None, target=None):
        if name == "cove_matplotlib_backend":
            return importlib.util.spec_from_loader(name, _BackendLoader())
        if name != "matplotlib" or self.pointed:
            return None
        self.pointed = True
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            if not os.environ.get("MPLBACKEND"):
                try:
                    module.use(_BACKEND)
                except Exception:
                    pass

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _MatplotlibHook())


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _numbers(values):
    return [_number(v) for v in list(values)[:_MAX_VALUES]]


def _label_of(value):
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except Exception:
            pass
    return str(value)


def _labels_if_not_numbers(values):
    import numpy as np
    array = np.asarray(values)
    if array.dtype.kind in "iufb":
        return []
    if array.dtype.kind == "M":
        return [str(v) for v in np.datetime_as_string(array[:_MAX_VALUES], unit="auto")]
    return [_label_of(v) for v in list(values)[:_MAX_VALUES]]


def _legend_label(artist):
    label = artist.get_label() or ""
    return "" if label.startswith("_") else label


def _axis(ax, which):
    axis = ax.xaxis if which == "x" else ax.yaxis
    ticks = ax.get_xticks() if which == "x" else ax.get_yticks()
    texts = ax.get_xticklabels() if which == "x" else ax.get_yticklabels()
    return {
        "label": (ax.get_xlabel() if which == "x" else ax.get_ylabel()) or "",
        "scale": axis.get_scale(),
        "ticks": _numbers(ticks),
        "tickLabels": [t.get_text() for t in texts][:_MAX_VALUES],
    }


def _bar_labels(ax, centres, horizontal):
    axis = ax.yaxis if horizontal else ax.xaxis
    mapping = getattr(axis.get_units(), "_mapping", None)
    if mapping:
        names = {float(pos): str(name) for name, pos in mapping.items()}
        return [names.get(float(c), _label_of(c)) for c in centres]
    ticks = ax.get_yticks() if horizontal else ax.get_xticks()
    texts = [t.get_text() for t in (ax.get_yticklabels() if horizontal else ax.get_xticklabels())]
    out = []
    for c in centres:
        found = ""
        for tick, text in zip(ticks, texts):
            if abs(float(tick) - float(c)) < 1e-9 * max(1.0, abs(float(c))):
                found = text
                break
        out.append(found or ("%g" % c))
    return out


def _chart_of(fig):
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    if len(axes) != 1:
        return None
    ax = axes[0]
    wedges = [p for p in ax.patches if isinstance(p, Wedge)]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    lines = list(ax.get_lines())
    kinds = [k for k, found in (("pie", wedges), ("bar", bars), ("scatter", points), ("line", lines)) if found]
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    title = ax.get_title() or (fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else "")
    chart = {"type": kind, "title": title, "horizontal": False, "series": []}
    if kind == "pie":
        chart["series"].append({
            "label": "",
            "x": [],
            "xLabels": [_legend_label(w) for w in wedges][:_MAX_VALUES],
            "y": _numbers([(w.theta2 - w.theta1) / 360.0 for w in wedges]),
        })
        return chart
    chart["xAxis"] = _axis(ax, "x")
    chart["yAxis"] = _axis(ax, "y")
    if kind == "line":
        for line in lines[:_MAX_SERIES]:
            chart["series"].append({
                "label": _legend_label(line),
                "x": _numbers(line.get_xdata(orig=False)),
                "xLabels": _labels_if_not_numbers(line.get_xdata(orig=True)),
                "y": _numbers(line.get_ydata(orig=False)),
            })
    elif kind == "scatter":
        for collection in points[:_MAX_SERIES]:
            offsets = collection.get_offsets()
            chart["series"].append({
                "label": _legend_label(collection),
                "x": _numbers(offsets[:, 0]) if len(offsets) else [],
                "xLabels": [],
                "y": _numbers(offsets[:, 1]) if len(offsets) else [],
            })
    else:
        horizontal = getattr(bars[0], "orientation", "vertical") == "horizontal"
        chart["horizontal"] = horizontal
        for container in bars[:_MAX_SERIES]:
            patches = list(container.patches)[:_MAX_VALUES]
            if horizontal:
                centres = [p.get_y() + p.get_height() / 2.0 for p in patches]
            else:
                centres = [p.get_x() + p.get_width() / 2.0 for p in patches]
            values = getattr(container, "datavalues", None)
            if values is None:
                values = [p.get_width() if horizontal else p.get_height() for p in patches]
            chart["series"].append({
                "label": _legend_label(container),
                "x": _numbers(centres),
                "xLabels": _bar_labels(ax, centres, horizontal),
                "y": _numbers(values),
            })
    return chart


def _show_figure(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    try:
        chart = _chart_of(fig)
    except Exception:
        chart = None
    msg = {"type": "result", "main": False, "text": {"text/plain": repr(fig)},
           "binary": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii")}}
    if chart is not None:
        msg["chart"] = chart
    _emit(msg)


def _show_figures():
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        figure = pyplot.figure(number)
        try:
            _show_figure(figure)
        finally:
            pyplot.close(figure)


def _flush_figures():
    """Shows what the execution left open, if matplotlib uses the kernel's backend."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is None or "matplotlib.pyplot" not in sys.modules:
        return
    try:
        if matplotlib.get_backend() != _BACKEND:
            return
        _show_figures()
    except Exception as exc:
        _emit({"type": "stderr", "text": "could not show the figure: %s: %s\n" % (type(exc).__name__, exc)})
`;

/** The kinds of chart the kernel describes. */
export type ChartKind = "line" | "bar" | "scatter" | "pie";

/** One axis of a chart. */
export interface ChartAxisData {
  /** Axis label. */
  label: string;
  /** matplotlib's scale name. */
  scale: string;
  /** Major tick positions. */
  ticks: number[];
  /** Major tick texts. */
  tickLabels: string[];
}

/** One series of a chart (NaN for gaps). */
export interface ChartSeriesData {
  /** Legend label. */
  label: string;
  /** x coordinates (bar centres; empty for pies). */
  x: number[];
  /** Names of the x values when they were not plain numbers (wedge labels for pies). */
  xLabels: string[];
  /** Values. */
  y: number[];
}

/** The data behind a chart the code drew. */
export interface ChartData {
  /** Kind of chart. */
  type: ChartKind;
  /** Title. */
  title: string;
  /** Whether bars are horizontal. */
  horizontal: boolean;
  /** Horizontal axis (not for pies). */
  xAxis: ChartAxisData | undefined;
  /** Vertical axis (not for pies). */
  yAxis: ChartAxisData | undefined;
  /** Series in drawing order. */
  series: ChartSeriesData[];
}

const KINDS: readonly ChartKind[] = ["line", "bar", "scatter", "pie"];
const MAX_SERIES = 100;
const MAX_VALUES = 10_000;
const MAX_TEXT = 4096;

type Loose = Record<string, unknown>;
const loose = (v: unknown): Loose =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Loose) : {};
const str = (v: unknown) => (typeof v === "string" ? v.slice(0, MAX_TEXT) : "");
const list = (v: unknown) => (Array.isArray(v) ? v.slice(0, MAX_VALUES) : []);
const nums = (v: unknown) => list(v).map((n) => (typeof n === "number" ? n : Number.NaN));
const strs = (v: unknown) => list(v).map(str);

function axis(v: unknown): ChartAxisData | undefined {
  if (v === undefined || v === null) return undefined;
  const a = loose(v);
  return {
    label: str(a.label),
    scale: str(a.scale),
    ticks: nums(a.ticks),
    tickLabels: strs(a.tickLabels),
  };
}

/**
 * parseChart reads the chart description a kernel sent, trusting nothing: unknown kinds give
 * undefined, values are capped (100 series of 10000 values), non-numbers become NaN.
 */
export function parseChart(raw: unknown): ChartData | undefined {
  if (raw === undefined || raw === null) return undefined;
  const c = loose(raw);
  const type = KINDS.find((k) => k === c.type);
  if (!type) return undefined;
  return {
    type,
    title: str(c.title),
    horizontal: c.horizontal === true,
    xAxis: axis(c.xAxis),
    yAxis: axis(c.yAxis),
    series: (Array.isArray(c.series) ? c.series.slice(0, MAX_SERIES) : []).map((s) => {
      const series = loose(s);
      return {
        label: str(series.label),
        x: nums(series.x),
        xLabels: strs(series.xLabels),
        y: nums(series.y),
      };
    }),
  };
}
