//! A small, dependency-free SVG chart writer: line charts for loss curves and scatter plots for
//! latent spaces.
//!
//! `report.html` must be one self-contained file that opens anywhere, so charts are inline SVG built
//! as strings here rather than drawn by a plotting crate or a JavaScript library. Axes get about five
//! "nice" tick values (1, 2 or 5 times a power of ten; Heckbert, "Nice numbers for graph labels",
//! Graphics Gems, 1990), so that a reader can read values off the chart. Non-finite points are skipped
//! rather than failing, because a chart of a diverging run is exactly the chart one needs to see.

use std::fmt::Write as _;

/// One named sequence of `(x, y)` points: a line in [`line_chart`], a colour group in [`scatter`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The name shown in the legend.
    pub name: String,
    /// The points in drawing order; points with a non-finite coordinate are skipped.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `name` with `points`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Size, labels and scale of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartOptions {
    /// Width of the whole picture in pixels.
    pub width: u32,
    /// Height of the whole picture in pixels.
    pub height: u32,
    /// Label of the y axis; empty for none.
    pub y_label: String,
    /// Use a logarithmic y axis. Honoured only when every plotted y value is > 0; otherwise the chart
    /// falls back to a linear axis and says so, because a log axis cannot show zero or negatives.
    pub log_y: bool,
}

impl Default for ChartOptions {
    /// 640×360 pixels, no y label, linear y axis.
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            y_label: String::new(),
            log_y: false,
        }
    }
}

/// Colours of successive series: Tableau 10, chosen to stay distinguishable for common colour-vision
/// deficiencies. Series beyond ten reuse them with dashed lines.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Escapes text for XML (and HTML) content and attribute values.
///
/// Control characters that XML 1.0 forbids are replaced by U+FFFD so the output always parses.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Heckbert's "nice number": a number of the form 1, 2, 5 or 10 times a power of ten close to `x`
/// (rounded to the nearest when `round`, otherwise the smallest nice number ≥ `x`). `x` must be > 0.
pub fn nice_number(x: f64, round: bool) -> f64 {
    let exp = x.log10().floor();
    let base = 10f64.powf(exp);
    let f = x / base;
    let nf = if round {
        match f {
            f if f < 1.5 => 1.0,
            f if f < 3.0 => 2.0,
            f if f < 7.0 => 5.0,
            _ => 10.0,
        }
    } else {
        match f {
            f if f <= 1.0 => 1.0,
            f if f <= 2.0 => 2.0,
            f if f <= 5.0 => 5.0,
            _ => 10.0,
        }
    };
    nf * base
}

/// About `target` evenly spaced nice tick values (multiples of a nice step) whose first value is
/// ≤ `lo` and last value ≥ `hi`; e.g. `[0, 0.93]` gives 0, 0.2, …, 1.0.
///
/// A zero-width range is widened around its value; non-finite bounds give no ticks.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return Vec::new();
    }
    let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    // A range that is zero, or too narrow to be resolved next to its magnitude, is widened so the
    // step stays representable; a constant series then sits in the middle of its chart.
    let min_width = lo.abs().max(hi.abs()) * 1e-12;
    if hi - lo <= min_width {
        let half = if lo == 0.0 {
            1.0
        } else {
            (lo.abs() * 0.1).max(min_width)
        };
        (lo, hi) = (lo - half, hi + half);
    }
    let range = nice_number(hi - lo, false);
    let step = nice_number(range / (target.max(2) - 1) as f64, true);
    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
    // Ranges near the limits of f64 (an overflowing width, a subnormal step) give no sensible ticks;
    // the bounds themselves are the honest fallback.
    if !(step.is_finite() && step > 0.0 && (last - first).is_finite() && last - first <= 1000.0) {
        return if (hi - lo).is_finite() {
            vec![lo, hi]
        } else {
            Vec::new()
        };
    }
    // Dividing by the integer 1/step (for steps below one) keeps 0.6 from printing as 0.6000000000000001.
    let inv = (1.0 / step).round();
    let exact_inverse = step < 1.0 && (inv * step - 1.0).abs() < 1e-9;
    let count = (last - first) as i64;
    (0..=count)
        .map(|i| {
            let k = first + i as f64;
            if exact_inverse { k / inv } else { k * step }
        })
        .collect()
}

/// Formats a tick value so that ticks `step` apart are told apart, without float noise.
fn format_tick(v: f64, step: f64) -> String {
    if v.abs() < step.abs() * 1e-6 {
        return "0".to_string();
    }
    let mag = v.abs();
    if !(1e-3..1e6).contains(&mag) {
        return format_exp(v);
    }
    let decimals = (-step.abs().log10().floor()).clamp(0.0, 12.0) as usize;
    format!("{v:.decimals$}")
}

/// Formats `v` as `2.5e-4`: three significant decimals at most, trailing zeros dropped.
fn format_exp(v: f64) -> String {
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        _ => s,
    }
}

/// One axis: the drawn range in (possibly log-transformed) data space and its labelled ticks.
struct Axis {
    lo: f64,
    hi: f64,
    /// Tick positions in the same space as `lo`/`hi`, with their labels.
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn linear(lo: f64, hi: f64) -> Self {
        let values = nice_ticks(lo, hi, 5);
        let step = if values.len() >= 2 {
            values[1] - values[0]
        } else {
            1.0
        };
        let (first, last) = match (values.first(), values.last()) {
            (Some(&f), Some(&l)) => (f, l),
            _ => (lo, hi),
        };
        let ticks = values.iter().map(|&v| (v, format_tick(v, step))).collect();
        Self {
            lo: first,
            hi: last,
            ticks,
        }
    }

    /// An axis over log10 of values in `[lo, hi]`, both > 0, with ticks at powers of ten (and at 2×
    /// and 5× them when the data spans at most two decades, so that there is something to read off).
    fn log10(lo: f64, hi: f64) -> Self {
        let mut e_lo = lo.log10().floor();
        let mut e_hi = hi.log10().ceil();
        if e_hi <= e_lo {
            e_hi = e_lo + 1.0;
        }
        let decades = e_hi - e_lo;
        let mut ticks = Vec::new();
        if decades <= 2.0 {
            let mut decade_exps = vec![e_lo];
            while decade_exps.last().is_some_and(|&e| e < e_hi) {
                decade_exps.push(decade_exps[decade_exps.len() - 1] + 1.0);
            }
            for e in decade_exps {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * 10f64.powf(e);
                    if e == e_hi && m > 1.0 {
                        break;
                    }
                    ticks.push((v.log10(), format_log_tick(v)));
                }
            }
            // Drop the ticks beyond the first one at or below the data and the first one at or above
            // it, so the axis hugs the data; keep two at least, so a constant series still has a scale.
            let (l, h) = (lo.log10(), hi.log10());
            let keep_lo = ticks.iter().rposition(|t| t.0 <= l + 1e-12).unwrap_or(0);
            let mut keep_hi = ticks
                .iter()
                .position(|t| t.0 >= h - 1e-12)
                .unwrap_or(ticks.len() - 1);
            if keep_hi <= keep_lo {
                keep_hi = (keep_lo + 1).min(ticks.len() - 1);
            }
            ticks = ticks[keep_lo..=keep_hi].to_vec();
            e_lo = ticks.first().map_or(e_lo, |t| t.0);
            e_hi = ticks.last().map_or(e_hi, |t| t.0);
        } else {
            // At most about eight labelled decades; wider ranges label every second, fifth… decade.
            let every = (decades / 8.0).ceil().max(1.0);
            e_lo = (e_lo / every).floor() * every;
            e_hi = (e_hi / every).ceil() * every;
            let mut e = e_lo;
            while e <= e_hi + 1e-9 {
                ticks.push((e, format_log_tick(10f64.powf(e))));
                e += every;
            }
        }
        Self {
            lo: e_lo,
            hi: e_hi,
            ticks,
        }
    }
}

fn format_log_tick(v: f64) -> String {
    if (1e-3..1e6).contains(&v) {
        // Powers of ten and their 2×/5× multiples need no more decimals than their exponent says.
        let decimals = (-v.log10().floor()).max(0.0) as usize;
        format!("{v:.decimals$}")
    } else {
        format_exp(v)
    }
}

/// Plot-area geometry shared by both chart kinds.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn px(&self, axis: &Axis, v: f64) -> f64 {
        let span = if axis.hi > axis.lo {
            axis.hi - axis.lo
        } else {
            1.0
        };
        self.left + (v - axis.lo) / span * (self.right - self.left)
    }
    fn py(&self, axis: &Axis, v: f64) -> f64 {
        let span = if axis.hi > axis.lo {
            axis.hi - axis.lo
        } else {
            1.0
        };
        self.bottom - (v - axis.lo) / span * (self.bottom - self.top)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Lines,
    Dots,
}

/// A line chart of `series` against x, with default [`ChartOptions`].
///
/// Each series is a polyline in its own colour, named in a legend; points with a non-finite
/// coordinate are skipped; without any finite point the chart says "no data".
pub fn line_chart(title: &str, x_label: &str, series: &[Series]) -> String {
    line_chart_with(title, x_label, series, &ChartOptions::default())
}

/// A line chart of `series` against x, sized and scaled by `opts`; see [`line_chart`].
pub fn line_chart_with(
    title: &str,
    x_label: &str,
    series: &[Series],
    opts: &ChartOptions,
) -> String {
    chart(title, x_label, series, opts, Kind::Lines)
}

/// A scatter plot of 2-D points, one colour per group (e.g. per class label, see [`group_by_label`]),
/// with default [`ChartOptions`]; used for latent spaces and PCA projections.
pub fn scatter(title: &str, x_label: &str, groups: &[Series]) -> String {
    scatter_with(title, x_label, groups, &ChartOptions::default())
}

/// A scatter plot sized and scaled by `opts`; see [`scatter`].
pub fn scatter_with(title: &str, x_label: &str, groups: &[Series], opts: &ChartOptions) -> String {
    chart(title, x_label, groups, opts, Kind::Dots)
}

/// Splits points into one [`Series`] per distinct label, named by the label and ordered by it.
///
/// Points and labels are paired by index; points beyond the end of `labels` go into a last group
/// named "unlabelled", so a length mismatch shows up in the legend instead of vanishing.
pub fn group_by_label(points: &[(f64, f64)], labels: &[usize]) -> Vec<Series> {
    let mut groups: std::collections::BTreeMap<usize, Vec<(f64, f64)>> = Default::default();
    for (p, &l) in points.iter().zip(labels) {
        groups.entry(l).or_default().push(*p);
    }
    let mut out: Vec<Series> = groups
        .into_iter()
        .map(|(l, pts)| Series::new(l.to_string(), pts))
        .collect();
    if points.len() > labels.len() {
        out.push(Series::new("unlabelled", points[labels.len()..].to_vec()));
    }
    out
}

fn chart(title: &str, x_label: &str, series: &[Series], opts: &ChartOptions, kind: Kind) -> String {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = || series.iter().flat_map(|s| s.points.iter().filter(finite));
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all() {
        (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
    }
    let has_data = x_lo <= x_hi;
    let log_y = opts.log_y && has_data && y_lo > 0.0;

    let legend = series.len() > 1;
    let width = f64::from(opts.width.max(200));
    let height = f64::from(opts.height.max(120));
    let f = Frame {
        width,
        height,
        left: 72.0,
        right: width - if legend { 150.0 } else { 20.0 },
        top: 36.0,
        bottom: height - 48.0,
    };

    let mut s = String::new();
    // Writing to a String cannot fail, so the fmt::Results below are deliberately ignored.
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" role="img">"#,
        w = f.width,
        h = f.height
    );
    let _ = write!(s, "<title>{}</title>", escape_xml(title));
    let _ = write!(
        s,
        r#"<rect x="0" y="0" width="{}" height="{}" fill="white"/>"#,
        f.width, f.height
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        f.width / 2.0,
        escape_xml(title)
    );

    if !has_data {
        let _ = write!(
            s,
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/><text x="{}" y="{}" text-anchor="middle" fill="#666" font-size="14">no data</text></svg>"##,
            f.left,
            f.top,
            f.right - f.left,
            f.bottom - f.top,
            (f.left + f.right) / 2.0,
            (f.top + f.bottom) / 2.0
        );
        return s;
    }

    let xa = Axis::linear(x_lo, x_hi);
    let ya = if log_y {
        Axis::log10(y_lo, y_hi)
    } else {
        Axis::linear(y_lo, y_hi)
    };
    let ty = |y: f64| if log_y { y.log10() } else { y };

    // Grid lines and tick labels first, so the data is drawn on top of them.
    for (v, label) in &xa.ticks {
        let x = f.px(&xa, *v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
            f.top,
            f.bottom,
            f.bottom + 16.0,
            escape_xml(label)
        );
    }
    for (v, label) in &ya.ticks {
        let y = f.py(&ya, *v);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            f.left,
            f.right,
            f.left - 6.0,
            y + 4.0,
            escape_xml(label)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (f.left + f.right) / 2.0,
        f.height - 10.0,
        escape_xml(x_label)
    );
    let mut y_label = opts.y_label.clone();
    if log_y {
        y_label = if y_label.is_empty() {
            "log scale".into()
        } else {
            format!("{y_label} (log scale)")
        };
    } else if opts.log_y && has_data {
        y_label = if y_label.is_empty() {
            "linear: values ≤ 0".into()
        } else {
            format!("{y_label} (linear: values ≤ 0)")
        };
    }
    if !y_label.is_empty() {
        let cy = (f.top + f.bottom) / 2.0;
        let _ = write!(
            s,
            r#"<text x="16" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 16 {cy:.1})">{}</text>"#,
            escape_xml(&y_label)
        );
    }

    for (i, ser) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = ser
            .points
            .iter()
            .filter(finite)
            .map(|&(x, y)| (f.px(&xa, x), f.py(&ya, ty(y))))
            .collect();
        match kind {
            Kind::Lines if pts.len() >= 2 => {
                let dash = if i >= PALETTE.len() {
                    r#" stroke-dasharray="6 3""#
                } else {
                    ""
                };
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} points=""#
                );
                for (j, (x, y)) in pts.iter().enumerate() {
                    let _ = write!(s, "{}{x:.1},{y:.1}", if j == 0 { "" } else { " " });
                }
                s.push_str(r#""/>"#);
            }
            // A single point would be an invisible line, so it is drawn as a dot.
            Kind::Lines => {
                for (x, y) in &pts {
                    let _ = write!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
                    );
                }
            }
            Kind::Dots => {
                let _ = write!(s, r#"<g fill="{color}" fill-opacity="0.7">"#);
                for (x, y) in &pts {
                    let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2"/>"#);
                }
                s.push_str("</g>");
            }
        }
    }

    if legend {
        let lx = f.right + 12.0;
        for (i, ser) in series.iter().enumerate() {
            let y = f.top + 8.0 + 18.0 * i as f64;
            if y > f.bottom {
                let _ = write!(
                    s,
                    r#"<text x="{lx:.1}" y="{y:.1}">… {} more</text>"#,
                    series.len() - i
                );
                break;
            }
            let color = PALETTE[i % PALETTE.len()];
            let mut name: String = ser.name.chars().take(18).collect();
            if ser.name.chars().count() > 18 {
                name.push('…');
            }
            let _ = write!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                y - 6.0,
                lx + 20.0,
                y,
                escape_xml(&name)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Test helper shared with `report`: asserts that every tag in `doc` is closed in order, that
/// attribute quotes pair up, and that every `&` starts an entity. Enough to catch broken markup
/// without an XML parser dependency.
#[cfg(test)]
pub(crate) fn assert_balanced(doc: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            let end = entity
                .find(';')
                .unwrap_or_else(|| panic!("bare & in {entity:.40}"));
            assert!(end < 10, "bare & in {entity:.40}");
        }
        let close = rest[open..]
            .find('>')
            .map(|c| open + c)
            .unwrap_or_else(|| panic!("unclosed <"));
        let tag = &rest[open + 1..close];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        assert!(!tag.contains('<'), "< inside tag <{tag}>");
        if tag.starts_with('!') || tag.starts_with('?') {
            // Doctype or processing instruction: not an element.
        } else if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') {
            let name = tag
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            stack.push(name);
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_number(0.93, false), 1.0);
        assert_eq!(nice_number(0.25, true), 0.2);
        assert_eq!(nice_number(15.8, false), 20.0);
        assert_eq!(nice_number(5.0, true), 5.0);
        assert_eq!(nice_number(8.0, true), 10.0);
        assert_eq!(nice_number(1.4, true), 1.0);
    }

    #[test]
    fn ticks_match_hand_computed_cases() {
        // range [0, 0.93]: nice range 1, step nice(1/4 = 0.25) = 0.2.
        approx(&nice_ticks(0.0, 0.93, 5), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        // range 100 → step nice(25) = 20.
        approx(
            &nice_ticks(0.0, 100.0, 5),
            &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0],
        );
        // range 15.8 → nice 20, step nice(5) = 5; floor(-3.7/5) = -1, ceil(12.1/5) = 3.
        approx(&nice_ticks(-3.7, 12.1, 5), &[-5.0, 0.0, 5.0, 10.0, 15.0]);
        // range 555 → nice 1000, step nice(250) = 200.
        approx(
            &nice_ticks(1234.0, 1789.0, 5),
            &[1200.0, 1400.0, 1600.0, 1800.0],
        );
        // Reversed bounds are accepted.
        approx(&nice_ticks(0.93, 0.0, 5), &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        // Steps below one print without float noise.
        assert_eq!(nice_ticks(0.0, 0.93, 5)[3], 0.6);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
    }

    #[test]
    fn ticks_cover_any_range() {
        let cases = [
            (0.0, 0.0),
            (5.0, 5.0),
            (-1e-7, 3e-7),
            (1e9, 1e9 + 1.0),
            (-250.0, -249.0),
            (0.001, 1e6),
        ];
        for (lo, hi) in cases {
            let t = nice_ticks(lo, hi, 5);
            assert!(t.len() >= 2 && t.len() <= 12, "{lo}..{hi}: {t:?}");
            assert!(
                t[0] <= lo && *t.last().expect("ticks") >= hi,
                "{lo}..{hi}: {t:?}"
            );
            assert!(t.windows(2).all(|w| w[1] > w[0]), "{lo}..{hi}: {t:?}");
        }
    }

    #[test]
    fn tick_labels() {
        assert_eq!(format_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(format_tick(1.0, 0.2), "1.0");
        assert_eq!(format_tick(1200.0, 200.0), "1200");
        assert_eq!(format_tick(-1e-17, 0.2), "0");
        assert_eq!(format_tick(2.5e-4, 5e-5), "2.5e-4");
        assert_eq!(format_tick(3e7, 1e7), "3e7");
    }

    #[test]
    fn line_chart_has_axes_legend_and_lines() {
        let series = [
            Series::new(
                "train",
                vec![(0.0, 1.0), (10.0, 0.5), (20.0, f64::NAN), (30.0, 0.2)],
            ),
            Series::new("valid", vec![(10.0, 0.7), (30.0, 0.4)]),
        ];
        let svg = line_chart("loss", "step", &series);
        assert_balanced(&svg);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">train</text>") && svg.contains(">valid</text>"));
        assert!(svg.contains(PALETTE[0]) && svg.contains(PALETTE[1]));
        // The x ticks are 0, 10, 20, 30 and the NaN point is skipped: the train line has 3 points.
        assert!(svg.contains(">30</text>"));
        let train = svg.split("<polyline").nth(1).expect("train line");
        let points = train
            .split("points=\"")
            .nth(1)
            .expect("points")
            .split('"')
            .next()
            .expect("end");
        assert_eq!(points.split(' ').count(), 3);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn empty_series_say_no_data() {
        for series in [
            vec![],
            vec![Series::new("a", vec![])],
            vec![Series::new("a", vec![(f64::NAN, 1.0)])],
        ] {
            let svg = line_chart("loss", "step", &series);
            assert_balanced(&svg);
            assert!(svg.contains("no data"));
        }
    }

    #[test]
    fn single_point_is_a_dot() {
        let svg = line_chart("x", "step", &[Series::new("a", vec![(3.0, 3.0)])]);
        assert_balanced(&svg);
        assert!(svg.contains("<circle"));
    }

    #[test]
    fn text_is_escaped() {
        let svg = line_chart(
            "a<b & c>d",
            "x \"q\"",
            &[Series::new("<s>", vec![(0.0, 1.0), (1.0, 2.0)])],
        );
        assert_balanced(&svg);
        assert!(svg.contains("a&lt;b &amp; c&gt;d"));
        assert!(svg.contains("x &quot;q&quot;"));
        assert!(!svg.contains("<s>"));
        assert_eq!(escape_xml("it's\u{1}"), "it&#39;s\u{fffd}");
    }

    #[test]
    fn log_scale_only_for_positive_values() {
        let opts = ChartOptions {
            log_y: true,
            y_label: "loss".into(),
            ..ChartOptions::default()
        };
        let pos = [Series::new(
            "a",
            vec![(0.0, 300.0), (1.0, 2.0), (2.0, 0.05)],
        )];
        let svg = line_chart_with("t", "step", &pos, &opts);
        assert_balanced(&svg);
        assert!(svg.contains("loss (log scale)"));
        assert!(svg.contains(">0.01</text>") && svg.contains(">1000</text>"));
        let neg = [Series::new("a", vec![(0.0, 3.0), (1.0, -2.0)])];
        let svg = line_chart_with("t", "step", &neg, &opts);
        assert!(svg.contains("linear: values"));
    }

    #[test]
    fn log_axis_within_two_decades_gets_intermediate_ticks() {
        let axis = Axis::log10(0.3, 0.9);
        let labels: Vec<&str> = axis.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.2", "0.5", "1"]);
        assert!(axis.lo <= 0.3f64.log10() && axis.hi >= 0.9f64.log10());
        let axis = Axis::log10(0.15, 2.2);
        let labels: Vec<&str> = axis.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.1", "0.2", "0.5", "1", "2", "5"]);
        let axis = Axis::log10(1.0, 1.0);
        assert_eq!(axis.ticks.len(), 2);
        assert!(axis.hi > axis.lo);
        let axis = Axis::log10(1e-12, 1e12);
        assert!(axis.ticks.len() <= 9, "{:?}", axis.ticks);
        assert!(axis.lo <= -12.0 && axis.hi >= 12.0);
    }

    #[test]
    fn scatter_colours_groups() {
        let points = [
            (0.0, 0.0),
            (1.0, 1.0),
            (2.0, -1.0),
            (f64::INFINITY, 0.0),
            (5.0, 5.0),
        ];
        let groups = group_by_label(&points, &[1, 0, 1, 0]);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].name, "0");
        assert_eq!(groups[1].points, [(0.0, 0.0), (2.0, -1.0)]);
        assert_eq!(groups[2].name, "unlabelled");
        let svg = scatter("latent", "z1", &groups);
        assert_balanced(&svg);
        // Four finite points, one circle each.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains(PALETTE[2]) && svg.contains(">unlabelled</text>"));
    }
}
