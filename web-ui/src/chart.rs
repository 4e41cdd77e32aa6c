//! The plotly chart of cell voltages. plotly.js is bundled into the page by trunk from the npm
//! package (no CDN); if it failed to load, the chart says so and the numbers still show.

use plotly::common::{Font, Marker};
use plotly::layout::{Axis, Margin};
use plotly::{Bar, Configuration, Layout, Plot};

/// DOM id of the chart's container.
pub const CELL_CHART_ID: &str = "cell-chart";

/// Colour of the highest cell's bar.
const HIGH: &str = "#d9480f";
/// Colour of the lowest cell's bar.
const LOW: &str = "#1c7ed6";
/// Colour of every other bar.
const NORMAL: &str = "#2f9e44";

/// Builds the bar chart for `cells` (volts, cell 1 first).
pub fn cell_plot(cells: &[f64]) -> Plot {
    let labels: Vec<String> = (1..=cells.len()).map(|i| i.to_string()).collect();
    let (lo, hi) = cells
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo_i, hi_i) = (position(cells, lo), position(cells, hi));
    let colors: Vec<&'static str> = (0..cells.len())
        .map(|i| match i {
            i if Some(i) == hi_i && lo < hi => HIGH,
            i if Some(i) == lo_i && lo < hi => LOW,
            _ => NORMAL,
        })
        .collect();
    let (bottom, top) = voltage_window(lo, hi);
    let trace = Bar::new(labels, cells.to_vec())
        .marker(Marker::new().color_array(colors))
        .hover_template("Cell %{x}: %{y:.3f} V<extra></extra>");
    let mut plot = Plot::new();
    plot.add_trace(trace);
    plot.set_layout(
        themed_layout(260)
            .margin(Margin::new().left(56).right(12).top(12).bottom(40))
            .x_axis(
                Axis::new()
                    .title("Cell")
                    .dtick(1.0)
                    .fixed_range(true)
                    .grid_color(GRID),
            )
            .y_axis(
                Axis::new()
                    .title("Voltage (V)")
                    .range(vec![bottom, top])
                    .tick_format(".3f")
                    .fixed_range(true)
                    .grid_color(GRID),
            ),
    );
    plot.set_configuration(Configuration::new().responsive(true).static_plot(true));
    plot
}

/// The voltage axis for cells between `lo` and `hi`, V: zoomed onto the cells so millivolt
/// differences are visible, never closer than a 40 mV window so noise does not look like
/// imbalance, and with room below the lowest cell in proportion to the spread, so that a cell
/// that has fallen far behind (the one that matters) still shows as a bar, not a sliver.
fn voltage_window(lo: f64, hi: f64) -> (f64, f64) {
    let spread = hi - lo;
    let bottom = lo - (0.25 * spread).max(0.01);
    let top = hi + (0.05 * spread).max(0.01);
    let short = (0.04 - (top - bottom)).max(0.0);
    (bottom - short / 2.0, top + short / 2.0)
}

fn position(cells: &[f64], value: f64) -> Option<usize> {
    cells.iter().position(|&v| v.total_cmp(&value).is_eq())
}

/// Draws `cells` into the chart container, if plotly.js is on the page. Returns whether it drew.
#[cfg(target_family = "wasm")]
pub fn draw(cells: &[f64]) -> bool {
    let loaded = plotly_loaded();
    if loaded {
        let plot = cell_plot(cells);
        leptos::task::spawn_local(async move {
            plotly::bindings::react(CELL_CHART_ID, &plot).await;
        });
    }
    loaded
}

/// Native builds (unit tests) have no page to draw on.
#[cfg(not(target_family = "wasm"))]
pub fn draw(_cells: &[f64]) -> bool {
    false
}

/// Grid lines that read on both themes.
const GRID: &str = "rgba(128,128,128,0.25)";
/// Both SOH lines (estimate solid, truth dashed), apart from the SOC lines' colours.
const SOH_COLOUR: &str = "#9467bd";

/// A layout on a transparent background with mid-grey text: readable in the light and the
/// dark theme.
fn themed_layout(height: usize) -> Layout {
    Layout::new()
        .paper_background_color("rgba(0,0,0,0)")
        .plot_background_color("rgba(0,0,0,0)")
        .font(Font::new().color("#8a97a5"))
        .height(height)
}

/// An axis on the right, sharing the plot with the left one. It picks its own round ticks
/// (plotly otherwise lines them up with the left axis's grid at values like 18.8 and −28.9)
/// and draws no grid of its own, so the plot keeps one set of grid lines.
fn right_axis(title: &str) -> Axis {
    Axis::new()
        .title(title)
        .overlaying("y")
        .side(plotly::common::AxisSide::Right)
        .tick_mode(plotly::common::TickMode::Auto)
        .show_grid(false)
        // Room for the tick labels and the title, which would otherwise overlap.
        .auto_margin(true)
}

/// The chart library, copied next to index.html by trunk.
#[cfg(target_family = "wasm")]
const PLOTLY_SCRIPT: &str = "plotly-basic.min.js";

/// Starts loading plotly.js (once): called when the first numbers are on screen, so that
/// parsing a megabyte of script never holds them up. Charts draw as soon as it is there.
#[cfg(target_family = "wasm")]
pub fn load_plotly() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if plotly_loaded() || document.get_element_by_id("plotly-script").is_some() {
        return;
    }
    let (Ok(script), Some(head)) = (document.create_element("script"), document.head()) else {
        return;
    };
    let _ = script.set_attribute("id", "plotly-script");
    let _ = script.set_attribute("src", PLOTLY_SCRIPT);
    let _ = script.set_attribute("async", "");
    let _ = head.append_child(&script);
}

/// Native builds (unit tests) have no page to load it into.
#[cfg(not(target_family = "wasm"))]
pub fn load_plotly() {}

/// Whether plotly.js is on the page.
#[cfg(target_family = "wasm")]
fn plotly_loaded() -> bool {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &"Plotly".into()).ok())
        .is_some_and(|p| !p.is_undefined())
}

/// Containers of the three history charts.
pub const HISTORY_CHART_IDS: [&str; 3] = ["history-soc", "history-pack", "history-cells"];

/// How the history's time axis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeAxis {
    /// Hours since the device started (a real device, a recording).
    Hours,
    /// The emulated clock, as the banner and the events tell it; the run started at
    /// `start_of_day_s` seconds after midnight of day 1.
    Clock {
        /// The emulated time of day the run started at, s.
        start_of_day_s: u64,
    },
    /// The local clock of the page, for points kept while it was open; they began at
    /// `start_of_day_s` seconds after local midnight.
    Local {
        /// The local time of day the points began at, s.
        start_of_day_s: u64,
    },
}

/// Ticks for hours `from_h`..`to_h` since a start at `start_of_day_s`: at round clock times
/// (every 1 min … 12 h, about eight on screen), "06:00", with the day told on the first and
/// at each midnight ("day 2<br>00:00"); over more than four days, at midnights only (every
/// 1 … 90 days), each "day 31".
pub fn clock_ticks(from_h: f64, to_h: f64, start_of_day_s: u64) -> (Vec<f64>, Vec<String>) {
    ticks_on_clock(from_h, to_h, start_of_day_s, |day| {
        format!("day {}", day + 1)
    })
}

/// The same on the page's local clock: a day is told by how many have passed since the first
/// ("+1 d"), and the first day is not told.
pub fn local_ticks(from_h: f64, to_h: f64, start_of_day_s: u64) -> (Vec<f64>, Vec<String>) {
    let (values, labels) = ticks_on_clock(from_h, to_h, start_of_day_s, |day| format!("+{day} d"));
    let labels = labels
        .into_iter()
        .map(|l| l.strip_prefix("+0 d<br>").map_or(l.clone(), str::to_owned))
        .collect();
    (values, labels)
}

/// Clock ticks, the day (0 for the first) told in words by `day`.
fn ticks_on_clock(
    from_h: f64,
    to_h: f64,
    start_of_day_s: u64,
    day: impl Fn(u64) -> String,
) -> (Vec<f64>, Vec<String>) {
    const DAY_MIN: u64 = 1_440;
    const STEPS_MIN: [u64; 19] = [
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        180,
        360,
        720,
        DAY_MIN,
        2 * DAY_MIN,
        5 * DAY_MIN,
        7 * DAY_MIN,
        14 * DAY_MIN,
        30 * DAY_MIN,
        60 * DAY_MIN,
        90 * DAY_MIN,
    ];
    let span_min = ((to_h - from_h) * 60.0).max(0.0);
    let step_min = STEPS_MIN
        .into_iter()
        .find(|&m| span_min / m as f64 <= 8.0)
        .unwrap_or(90 * DAY_MIN);
    let start_min = start_of_day_s as f64 / 60.0;
    // Clock minutes since midnight of day 1, at the first round tick inside the window.
    let first = ((start_min + from_h * 60.0) / step_min as f64).ceil() as u64 * step_min;
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    let mut clock = first;
    while (clock as f64 - start_min) / 60.0 <= to_h + 1e-9 && values.len() < 24 {
        let of_day = clock % 1_440;
        let time = format!("{:02}:{:02}", of_day / 60, of_day % 60);
        labels.push(if step_min >= DAY_MIN {
            day(clock / DAY_MIN)
        } else if values.is_empty() || of_day == 0 {
            format!("{}<br>{time}", day(clock / DAY_MIN))
        } else {
            time
        });
        values.push((clock as f64 - start_min) / 60.0);
        clock += step_min;
    }
    (values, labels)
}

/// The history as three plotly charts sharing a time axis (hours, or the emulated clock): SOC (estimate, its 3σ
/// band held to 0–100 %, as no cell holds less or more; the truth in emulator mode); pack
/// voltage and current; cell spread and the temperature extremes. Drag to zoom, double-click to see everything again.
///
/// `window_h` is the stretch on screen, hours (`None`: everything); `time_axis` says whether
/// the axis reads in hours or on the emulated clock.
pub fn history_plots(
    points: &[crate::history::HistoryPoint],
    window_h: Option<(f64, f64)>,
    time_axis: TimeAxis,
) -> [Plot; 3] {
    use plotly::Scatter;
    use plotly::common::{DashType, Line, Mode};
    let hours: Vec<f64> = points.iter().map(|p| p.time_s / 3600.0).collect();
    let series = |f: &dyn Fn(&crate::history::HistoryPoint) -> Option<f64>| -> Vec<Option<f64>> {
        points.iter().map(f).collect()
    };
    let line = |name: &str, y: Vec<Option<f64>>| {
        Scatter::new(hours.clone(), y).name(name).mode(Mode::Lines)
    };
    let dotted = Line::new().dash(DashType::Dot).width(1.0);
    let frame = TimeFrame::new(&hours, window_h, time_axis);
    let layout = |title: &str| frame.layout(title);

    let mut soc = Plot::new();
    soc.add_trace(line("estimate", series(&|p| Some(p.soc_pct))));
    soc.add_trace(
        line(
            "+3σ",
            series(&|p| p.soc_bound_pct.map(|b| (p.soc_pct + b).min(100.0))),
        )
        .line(dotted.clone()),
    );
    soc.add_trace(
        line(
            "−3σ",
            series(&|p| p.soc_bound_pct.map(|b| (p.soc_pct - b).max(0.0))),
        )
        .line(dotted.clone()),
    );
    let emulated = points.iter().any(|p| p.true_soc_pct.is_some());
    if emulated {
        // A point whose report was merged before its truth came has none: join across it.
        soc.add_trace(line("truth", series(&|p| p.true_soc_pct)).connect_gaps(true));
    }
    // SOH on the right: it moves over weeks, so it reads against a scale of its own.
    let soh_line = Line::new().width(1.5);
    let with_soh = points.iter().any(|p| p.soh_pct.is_some());
    if with_soh {
        soc.add_trace(
            line("SOH", series(&|p| p.soh_pct))
                .y_axis("y2")
                .line(soh_line.clone().color(SOH_COLOUR)),
        );
    }
    if with_soh && emulated {
        soc.add_trace(
            line("true SOH", series(&|p| p.true_soh_pct))
                .y_axis("y2")
                .connect_gaps(true)
                .line(soh_line.dash(DashType::Dash).color(SOH_COLOUR)),
        );
    }
    let soc_layout = layout("SOC (%)");
    soc.set_layout(match soh_range(points) {
        Some(range) if with_soh => soc_layout.y_axis2(right_axis("SOH (%)").range(range)),
        _ => soc_layout,
    });

    let mut pack = Plot::new();
    pack.add_trace(line("voltage", series(&|p| Some(p.pack_voltage_v))));
    pack.add_trace(line("current", series(&|p| Some(p.current_a))).y_axis("y2"));
    pack.set_layout(layout("Voltage (V)").y_axis2(right_axis("Current (A)")));

    let mut cells = Plot::new();
    cells.add_trace(line("cell spread", series(&|p| Some(p.spread_mv))));
    cells.add_trace(line("coldest sensor", series(&|p| p.temperature_c.map(|t| t.0))).y_axis("y2"));
    cells.add_trace(line("hottest sensor", series(&|p| p.temperature_c.map(|t| t.1))).y_axis("y2"));
    cells.set_layout(layout("Spread (mV)").y_axis2(right_axis("Temperature (°C)")));
    for plot in [&mut soc, &mut pack, &mut cells] {
        plot.set_configuration(Configuration::new().responsive(true).display_logo(false));
    }
    [soc, pack, cells]
}

/// The time axis a panel's charts share: the emulated clock's ticks (worked out once for all
/// of them) or hours, held to the stretch on screen when zoomed.
/// A time axis's ticks: where, hours, and what they say.
type Ticks = (Vec<f64>, Vec<String>);

struct TimeFrame {
    /// The axis's title and its ticks (`None`: hours).
    ticks: Option<(&'static str, Ticks)>,
    window_h: Option<(f64, f64)>,
}

impl TimeFrame {
    /// For points at `hours`, `window_h` on screen (`None`: all of them), read as `time_axis`.
    fn new(hours: &[f64], window_h: Option<(f64, f64)>, time_axis: TimeAxis) -> Self {
        let shown_h = window_h.or_else(|| Some((*hours.first()?, *hours.last()?)));
        let ticks = match (time_axis, shown_h) {
            (TimeAxis::Clock { start_of_day_s }, Some((from, to))) => {
                Some(("Emulated time", clock_ticks(from, to, start_of_day_s)))
            }
            (TimeAxis::Local { start_of_day_s }, Some((from, to))) => {
                Some(("Local time", local_ticks(from, to, start_of_day_s)))
            }
            _ => None,
        };
        TimeFrame { ticks, window_h }
    }

    fn x_axis(&self) -> Axis {
        let axis = match &self.ticks {
            Some((title, (values, labels))) => Axis::new()
                .title(*title)
                .tick_mode(plotly::common::TickMode::Array)
                .tick_values(values.clone())
                .tick_text(labels.clone()),
            None => Axis::new().title("Hours"),
        }
        .grid_color(GRID);
        match self.window_h {
            Some((from, to)) => axis.range(vec![from, to]),
            None => axis,
        }
    }

    /// A chart's layout over this time axis, its left axis titled `title`; the legend runs
    /// along the top (on the right it collided with the right axis's title).
    fn layout(&self, title: &str) -> Layout {
        use plotly::common::{Anchor, Orientation};
        let legend = plotly::layout::Legend::new()
            .orientation(Orientation::Horizontal)
            .x(0.0)
            .x_anchor(Anchor::Left)
            .y(1.0)
            .y_anchor(Anchor::Bottom);
        themed_layout(250)
            .margin(Margin::new().left(56).right(56).top(32).bottom(40))
            .legend(legend)
            .x_axis(self.x_axis())
            .y_axis(Axis::new().title(title).grid_color(GRID))
    }
}

/// Containers of the bank's two history charts: each pack's current, each pack's SOC.
pub const BANK_CHART_IDS: [&str; 2] = ["bank-current", "bank-soc"];

/// The same for your own packs in parallel.
pub const PARALLEL_CHART_IDS: [&str; 2] = ["parallel-current", "parallel-soc"];

/// The line of pack 1, 2, …: solid for pack 1, drawn first and so below; dashed or dotted for
/// the packs drawn over it (the patterns again from pack 7).
const PACK_DASHES: [plotly::common::DashType; 6] = [
    plotly::common::DashType::Solid,
    plotly::common::DashType::Dash,
    plotly::common::DashType::Dot,
    plotly::common::DashType::DashDot,
    plotly::common::DashType::LongDash,
    plotly::common::DashType::LongDashDot,
];

/// The bank's history as two plotly charts on one time axis: each pack's current as its BMS
/// measures it, and each pack's SOC as its BMS tells it, a line a pack (a gap where a value
/// is not a number: the pack was not reporting).
pub fn bank_plots(points: &[crate::link::BankPoint], time_axis: TimeAxis) -> [Plot; 2] {
    use plotly::Scatter;
    use plotly::common::{Line, Mode};
    let hours: Vec<f64> = points.iter().map(|p| p.time_s / 3600.0).collect();
    let frame = TimeFrame::new(&hours, None, time_axis);
    let packs = points.iter().map(|p| p.packs.len()).max().unwrap_or(0);
    let series = |k: usize, pick: fn(&(f32, f32)) -> f32| -> Vec<Option<f64>> {
        points
            .iter()
            .map(|p| {
                p.packs
                    .get(k)
                    .map(|v| f64::from(pick(v)))
                    .filter(|v| v.is_finite())
            })
            .collect()
    };
    let mut current = Plot::new();
    let mut soc = Plot::new();
    for k in 0..packs {
        let name = format!("pack {}", k + 1);
        // Like packs draw the same line: each later pack's dashes let the ones below show
        // through, so that no pack seems missing.
        let line = || Line::new().dash(PACK_DASHES[k % PACK_DASHES.len()].clone());
        current.add_trace(
            Scatter::new(hours.clone(), series(k, |v| v.1))
                .name(&name)
                .mode(Mode::Lines)
                .line(line()),
        );
        soc.add_trace(
            Scatter::new(hours.clone(), series(k, |v| v.0))
                .name(&name)
                .mode(Mode::Lines)
                .line(line()),
        );
    }
    current.set_layout(frame.layout("Current (A)"));
    soc.set_layout(frame.layout("SOC (%)"));
    for plot in [&mut current, &mut soc] {
        plot.set_configuration(Configuration::new().responsive(true).display_logo(false));
    }
    [current, soc]
}

/// Draws bank chart `index` into the container `ids[index]` ([`BANK_CHART_IDS`],
/// [`PARALLEL_CHART_IDS`]) from `points`, if plotly.js is on the page. Returns whether it drew.
#[cfg(target_family = "wasm")]
pub fn draw_bank_chart(
    ids: &[&'static str; 2],
    index: usize,
    points: &[crate::link::BankPoint],
    time_axis: TimeAxis,
) -> bool {
    let loaded = plotly_loaded();
    if loaded
        && let (Some(id), Some(plot)) = (
            ids.get(index).copied(),
            bank_plots(points, time_axis).into_iter().nth(index),
        )
    {
        leptos::task::spawn_local(async move {
            plotly::bindings::react(id, &plot).await;
        });
    }
    loaded
}

/// Native builds (unit tests) have no page to draw on.
#[cfg(not(target_family = "wasm"))]
pub fn draw_bank_chart(
    _ids: &[&'static str; 2],
    _index: usize,
    _points: &[crate::link::BankPoint],
    _time_axis: TimeAxis,
) -> bool {
    false
}

/// The SOH axis: whole points around every SOH value on screen, at least ten points tall, so
/// that a estimate wandering by half a point reads as the small thing it is.
fn soh_range(points: &[crate::history::HistoryPoint]) -> Option<Vec<f64>> {
    let (lo, hi) = points
        .iter()
        .flat_map(|p| [p.soh_pct, p.true_soh_pct])
        .flatten()
        .fold(None, |acc: Option<(f64, f64)>, x| {
            Some(acc.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
        })?;
    let top = hi.ceil();
    Some(vec![lo.floor().min(top - 10.0), top])
}

/// Most time buckets a history chart draws (each as its low and high point): about one point
/// per pixel of a chart the width of a laptop screen.
pub const HISTORY_BUCKETS: usize = 600;

/// Draws history chart `index` (of [`HISTORY_CHART_IDS`]) for the stretch `window_s` of
/// device time (`None`: everything), decimated to [`HISTORY_BUCKETS`], if plotly.js is on the
/// page. Returns whether it drew. One chart at a time, so that no single frame does all the
/// work.
#[cfg(target_family = "wasm")]
pub fn draw_history_chart(
    index: usize,
    history: &crate::history::History,
    window_s: Option<(f64, f64)>,
    time_axis: TimeAxis,
) -> bool {
    let loaded = plotly_loaded();
    if loaded {
        let points = history.view(window_s, HISTORY_BUCKETS);
        let window_h = window_s.map(|(a, b)| (a / 3600.0, b / 3600.0));
        let plots = history_plots(&points, window_h, time_axis);
        if let (Some(id), Some(plot)) = (HISTORY_CHART_IDS.get(index), plots.into_iter().nth(index))
        {
            leptos::task::spawn_local(async move {
                plotly::bindings::react(id, &plot).await;
            });
        }
    }
    loaded
}

/// Native builds (unit tests) have no page to draw on.
#[cfg(not(target_family = "wasm"))]
pub fn draw_history_chart(
    _index: usize,
    _history: &crate::history::History,
    _window_s: Option<(f64, f64)>,
    _time_axis: TimeAxis,
) -> bool {
    false
}

/// Reads a plotly relayout event: `Some(Some(range))` when the time axis was zoomed or panned
/// to `range` (hours), `Some(None)` when it was reset to everything, `None` when the event is
/// about something else.
#[cfg(target_family = "wasm")]
fn zoomed_to(event: &wasm_bindgen::JsValue) -> Option<Option<(f64, f64)>> {
    let get = |key: &str| js_sys::Reflect::get(event, &key.into()).ok();
    if get("xaxis.autorange").and_then(|v| v.as_bool()) == Some(true) {
        return Some(None);
    }
    let from = get("xaxis.range[0]").and_then(|v| v.as_f64());
    let to = get("xaxis.range[1]").and_then(|v| v.as_f64());
    if let (Some(from), Some(to)) = (from, to) {
        return Some(Some((from.min(to), from.max(to))));
    }
    // Other relayouts (a window resize, an autosize) carry no range at all.
    let range = get("xaxis.range")
        .filter(js_sys::Array::is_array)
        .map(|v| js_sys::Array::from(&v))?;
    let (from, to) = (range.get(0).as_f64()?, range.get(1).as_f64()?);
    Some(Some((from.min(to), from.max(to))))
}

/// Calls `on_zoom` whenever the user zooms or pans history chart `index` in time (with the
/// stretch on screen in seconds, `None` after a double-click back to everything). Returns
/// false if the chart is not drawn yet (plotly attaches its events to a drawn chart).
#[cfg(target_family = "wasm")]
pub fn listen_for_zoom(index: usize, on_zoom: impl Fn(Option<(f64, f64)>) + 'static) -> bool {
    use wasm_bindgen::JsCast;
    let Some(div) = HISTORY_CHART_IDS
        .get(index)
        .and_then(|id| web_sys::window()?.document()?.get_element_by_id(id))
    else {
        return false;
    };
    let Some(on) = js_sys::Reflect::get(&div, &"on".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let handler = wasm_bindgen::closure::Closure::<dyn Fn(wasm_bindgen::JsValue)>::new(
        move |event: wasm_bindgen::JsValue| {
            if let Some(window_h) = zoomed_to(&event) {
                on_zoom(window_h.map(|(a, b)| (a * 3600.0, b * 3600.0)));
            }
        },
    );
    let attached = on
        .call2(&div, &"plotly_relayout".into(), handler.as_ref())
        .is_ok();
    handler.forget();
    attached
}

/// Native builds have no charts to listen to.
#[cfg(not(target_family = "wasm"))]
pub fn listen_for_zoom(_index: usize, _on_zoom: impl Fn(Option<(f64, f64)>) + 'static) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_charts_show_the_bound_the_truth_and_two_axes() {
        let points: Vec<crate::history::HistoryPoint> = (0..10)
            .map(|k| crate::history::HistoryPoint {
                time_s: f64::from(k) * 600.0,
                pack_voltage_v: 52.0,
                current_a: -10.0,
                soc_pct: 50.0,
                soc_bound_pct: Some(3.0),
                true_soc_pct: Some(49.0),
                soh_pct: None,
                true_soh_pct: None,
                spread_mv: 6.0,
                temperature_c: Some((20.0, 22.0)),
            })
            .collect();
        let [soc, pack, cells] = history_plots(&points, None, TimeAxis::Hours);
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        assert_eq!(
            soc["data"].as_array().unwrap().len(),
            4,
            "estimate, ±3σ, truth"
        );
        assert_eq!(soc["data"][1]["y"][0], 53.0);
        assert_eq!(soc["data"][3]["name"], "truth");
        let pack: serde_json::Value = serde_json::from_str(&pack.to_json()).unwrap();
        assert_eq!(pack["data"][1]["yaxis"], "y2");
        assert_eq!(pack["layout"]["yaxis2"]["overlaying"], "y");
        // Round ticks of its own, not values lined up with the voltage grid.
        assert_eq!(pack["layout"]["yaxis2"]["tickmode"], "auto");
        assert_eq!(pack["layout"]["yaxis2"]["showgrid"], false);
        let cells: serde_json::Value = serde_json::from_str(&cells.to_json()).unwrap();
        assert_eq!(cells["data"][0]["x"][9], 1.5, "hours");

        // With SOH reported, it and its truth go on the SOC chart's right axis.
        let with_soh: Vec<_> = points
            .iter()
            .map(|p| crate::history::HistoryPoint {
                soh_pct: Some(96.0),
                true_soh_pct: Some(95.5),
                ..*p
            })
            .collect();
        let [soc, _, _] = history_plots(&with_soh, None, TimeAxis::Hours);
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        let names: Vec<&str> = soc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[4..], ["SOH", "true SOH"]);
        assert_eq!(soc["data"][4]["yaxis"], "y2");
        assert_eq!(soc["data"][5]["y"][0], 95.5);
        assert_eq!(soc["layout"]["yaxis2"]["title"]["text"], "SOH (%)");
        // Ten points tall at least: half a point apart is not drawn as a gulf.
        assert_eq!(
            soc["layout"]["yaxis2"]["range"],
            serde_json::json!([86.0, 96.0])
        );
    }

    #[test]
    fn the_soc_band_stays_between_empty_and_full() {
        let point = |soc_pct, bound| crate::history::HistoryPoint {
            time_s: 0.0,
            pack_voltage_v: 52.0,
            current_a: 0.0,
            soc_pct,
            soc_bound_pct: Some(bound),
            true_soc_pct: None,
            soh_pct: None,
            true_soh_pct: None,
            spread_mv: 0.0,
            temperature_c: None,
        };
        // A fresh estimate (±60 points) at 35 %, and a nearly full one.
        let [soc, _, _] = history_plots(
            &[point(35.0, 60.0), point(99.0, 3.0)],
            None,
            TimeAxis::Hours,
        );
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        assert_eq!(soc["data"][1]["y"], serde_json::json!([95.0, 100.0]), "+3σ");
        assert_eq!(soc["data"][2]["y"], serde_json::json!([0.0, 96.0]), "−3σ");
    }

    #[test]
    fn extremes_are_coloured_and_the_axis_frames_the_cells() {
        let plot = cell_plot(&[3.30, 3.35, 3.28, 3.31]);
        let json: serde_json::Value = serde_json::from_str(&plot.to_json()).unwrap();
        let colors = &json["data"][0]["marker"]["color"];
        assert_eq!(*colors, serde_json::json!([NORMAL, HIGH, LOW, NORMAL]));
        let range = &json["layout"]["yaxis"]["range"];
        let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
        assert!(lo < 3.28 && hi > 3.35 && hi - lo < 0.2, "{lo}..{hi}");
    }

    #[test]
    fn the_local_clock_tells_the_days_passed_only_after_the_first() {
        // Kept from 23:30 for an hour: every 10 min, the next day told at midnight.
        let (values, labels) = local_ticks(0.0, 1.0, 23 * 3600 + 30 * 60);
        assert_eq!(values.first(), Some(&0.0));
        assert_eq!(
            labels,
            [
                "23:30",
                "23:40",
                "23:50",
                "+1 d<br>00:00",
                "00:10",
                "00:20",
                "00:30"
            ]
        );
        // Over ten days, at every other midnight.
        let (_, labels) = local_ticks(0.0, 240.0, 12 * 3600);
        assert_eq!(labels.first().map(String::as_str), Some("+2 d"));
    }

    #[test]
    fn the_emulated_clock_gets_round_ticks_with_the_day_at_midnight() {
        // A run from 06:00, its first day on screen: every 3 h, the day told at the start
        // and at midnight.
        let (values, labels) = clock_ticks(0.0, 24.0, 6 * 3600);
        assert_eq!(values.first(), Some(&0.0));
        assert_eq!(values.get(1), Some(&3.0));
        assert_eq!(
            labels,
            [
                "day 1<br>06:00",
                "09:00",
                "12:00",
                "15:00",
                "18:00",
                "21:00",
                "day 2<br>00:00",
                "03:00",
                "06:00"
            ]
        );
        // Zoomed to 20 minutes from 13:07 on day 2 of a run from 00:00: every 5 min.
        let from = 24.0 + 13.0 + 7.0 / 60.0;
        let (values, labels) = clock_ticks(from, from + 20.0 / 60.0, 0);
        assert_eq!(labels.first().map(String::as_str), Some("day 2<br>13:10"));
        assert_eq!(labels.get(1).map(String::as_str), Some("13:15"));
        assert!((values[0] - (24.0 + 13.0 + 10.0 / 60.0)).abs() < 1e-9);
        // A month from 06:00: every five days, at midnight, the day alone.
        let (values, labels) = clock_ticks(0.0, 30.0 * 24.0, 6 * 3600);
        assert_eq!(
            labels,
            ["day 6", "day 11", "day 16", "day 21", "day 26", "day 31"]
        );
        assert_eq!(values.first(), Some(&(4.0 * 24.0 + 18.0)));
        // A year: every 60 days; never more than 24 ticks, however long.
        let (_, labels) = clock_ticks(0.0, 365.0 * 24.0, 0);
        assert_eq!(labels.get(1).map(String::as_str), Some("day 61"));
        let (values, _) = clock_ticks(0.0, 10_000.0 * 24.0, 0);
        assert!(!values.is_empty() && values.len() <= 24, "{}", values.len());
    }

    #[test]
    fn on_the_emulator_the_history_reads_on_its_clock() {
        let points: Vec<_> = (0..=24)
            .map(|h| crate::history::HistoryPoint {
                time_s: f64::from(h) * 3600.0,
                pack_voltage_v: 53.0,
                current_a: 0.0,
                soc_pct: 50.0,
                soc_bound_pct: None,
                true_soc_pct: None,
                soh_pct: None,
                true_soh_pct: None,
                spread_mv: 5.0,
                temperature_c: None,
            })
            .collect();
        let [soc, _, _] = history_plots(
            &points,
            None,
            TimeAxis::Clock {
                start_of_day_s: 21_600,
            },
        );
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        let axis = &soc["layout"]["xaxis"];
        assert_eq!(axis["title"]["text"], "Emulated time");
        assert_eq!(axis["ticktext"][0], "day 1<br>06:00");
        let [soc, _, _] = history_plots(&points, None, TimeAxis::Hours);
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        assert_eq!(soc["layout"]["xaxis"]["title"]["text"], "Hours");
        assert!(soc["layout"]["xaxis"]["ticktext"].is_null());
    }

    #[test]
    fn the_bank_draws_a_line_a_pack_for_current_and_soc_on_the_emulated_clock() {
        let points: Vec<_> = (0..=12)
            .map(|h| crate::link::BankPoint {
                time_s: f64::from(h) * 3600.0,
                packs: vec![(50.0, 10.0), (60.0, -4.0), (70.0, 0.0)],
            })
            .collect();
        let [current, soc] = bank_plots(
            &points,
            TimeAxis::Clock {
                start_of_day_s: 21_600,
            },
        );
        let current: serde_json::Value = serde_json::from_str(&current.to_json()).unwrap();
        let soc: serde_json::Value = serde_json::from_str(&soc.to_json()).unwrap();
        for (plot, y, title) in [(&current, -4.0, "Current (A)"), (&soc, 60.0, "SOC (%)")] {
            let traces = plot["data"].as_array().unwrap();
            assert_eq!(traces.len(), 3);
            assert_eq!(traces[1]["name"], "pack 2");
            let dashes: Vec<_> = traces.iter().map(|t| t["line"]["dash"].clone()).collect();
            assert_eq!(dashes, ["solid", "dash", "dot"]);
            assert_eq!(traces[1]["y"][5], y);
            assert_eq!(traces[1]["x"][12], 12.0);
            assert_eq!(plot["layout"]["yaxis"]["title"]["text"], title);
            assert_eq!(plot["layout"]["xaxis"]["ticktext"][0], "day 1<br>06:00");
        }
        // No bank yet: no lines.
        let [current, _] = bank_plots(&[], TimeAxis::Hours);
        let current: serde_json::Value = serde_json::from_str(&current.to_json()).unwrap();
        assert!(current["data"].as_array().is_none_or(Vec::is_empty));
    }

    #[test]
    fn a_cell_far_below_the_others_still_shows_as_a_bar() {
        // An internal short: one cell at 2.25 V, the rest near 3.24 V.
        let mut cells = [3.236; 16];
        cells[4] = 2.253;
        cells[7] = 3.237;
        let plot = cell_plot(&cells);
        let json: serde_json::Value = serde_json::from_str(&plot.to_json()).unwrap();
        let range = &json["layout"]["yaxis"]["range"];
        let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
        let shown = (2.253 - lo) / (hi - lo);
        assert!(
            shown >= 0.15,
            "the low cell fills {:.1} % of the height",
            shown * 100.0
        );
        assert!(hi > 3.237 && (hi - 3.237) / (hi - lo) < 0.1, "{lo}..{hi}");
    }

    #[test]
    fn equal_cells_are_all_normal_and_the_window_stays_40_mv_or_more() {
        let plot = cell_plot(&[3.3; 4]);
        let json: serde_json::Value = serde_json::from_str(&plot.to_json()).unwrap();
        assert_eq!(
            json["data"][0]["marker"]["color"],
            serde_json::json!([NORMAL, NORMAL, NORMAL, NORMAL])
        );
        let range = &json["layout"]["yaxis"]["range"];
        let width = range[1].as_f64().unwrap() - range[0].as_f64().unwrap();
        assert!(width >= 0.04 - 1e-9, "{width}");
    }
}
